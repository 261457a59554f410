// .safetensors reader: mmap, header validation, shard index, rows as f32.
#include "runtime/convert/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "kernels/half.h"
#include "runtime/convert/json_file.h"
#include "runtime/model_file.h"

namespace ember {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
    throw ModelFileError(path.string() + ": " + what);
}

// Bytes per element of every whole-byte safetensors dtype. Sub-byte types (F4, F6_*) and
// unknown names are rejected when the file is opened, since their sizes cannot be checked.
std::optional<uint64_t> safetensors_element_bytes(const std::string& dtype) {
    static const std::map<std::string, uint64_t> sizes = {
        {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
        {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
        {"F32", 4},  {"F64", 8}, {"I64", 8}, {"U64", 8},
    };
    auto it = sizes.find(dtype);
    if (it == sizes.end()) return std::nullopt;
    return it->second;
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// One header entry -> tensor, checked against the data section [data_start, file_size).
SafetensorsTensor parse_entry(const std::filesystem::path& path, const std::string& name, const nlohmann::json& e,
                              const uint8_t* map, uint64_t data_start, uint64_t file_size) {
    SafetensorsTensor t;
    t.name = name;
    t.file = path;
    const std::string where = "tensor '" + name + "'";
    if (!e.is_object()) fail(path, where + ": header entry is not an object");
    if (!e.contains("dtype") || !e["dtype"].is_string()) fail(path, where + ": missing or non-string \"dtype\"");
    t.dtype_name = e["dtype"].get<std::string>();
    auto elem_bytes = safetensors_element_bytes(t.dtype_name);
    if (!elem_bytes)
        fail(path, where + " has dtype " + t.dtype_name +
                       ", which is unknown or unsupported (the converter reads F32, F16, BF16)");

    if (!e.contains("shape") || !e["shape"].is_array()) fail(path, where + ": missing \"shape\" array");
    uint64_t elements = 1;
    for (const auto& d : e["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0)
            fail(path, where + ": shape entries must be non-negative integers");
        int64_t dim = d.get<int64_t>();
        if (__builtin_mul_overflow(elements, uint64_t(dim), &elements))
            fail(path, where + ": shape " + e["shape"].dump() + " overflows");
        t.shape.push_back(dim);
    }

    const auto& off = e.contains("data_offsets") ? e["data_offsets"] : nlohmann::json();
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
        fail(path, where + ": \"data_offsets\" must be two non-negative integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    const uint64_t data_bytes = file_size - data_start;
    if (begin > end)
        fail(path, where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                       "] begin after end");
    if (end > data_bytes)
        fail(path, where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                       "] extend past the data section (" + std::to_string(data_bytes) +
                       " bytes, file offset " + std::to_string(data_start) + "): truncated file?");
    uint64_t expect = 0;
    if (__builtin_mul_overflow(elements, *elem_bytes, &expect) || end - begin != expect)
        fail(path, where + ": " + std::to_string(end - begin) + " bytes at offset " +
                       std::to_string(data_start + begin) + ", but " + t.dtype_name + " " + shape_text(t.shape) +
                       " needs " + std::to_string(elements) + " x " + std::to_string(*elem_bytes));
    t.size = end - begin;
    t.file_offset = data_start + begin;
    t.data = map + t.file_offset;
    return t;
}

}  // namespace

int64_t SafetensorsTensor::rows() const {
    int64_t r = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) r *= shape[i];
    return r;
}
int64_t SafetensorsTensor::cols() const { return shape.empty() ? 1 : shape.back(); }

// ---------------------------------------------------------------------------- one file

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
    std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
    f->path_ = path;

    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(path, "not a readable regular file");
    }
    f->size_ = uint64_t(st.st_size);
    if (f->size_ < 8) {
        ::close(fd);
        fail(path, "file is " + std::to_string(f->size_) + " bytes, too short for a safetensors header (truncated?)");
    }
    void* m = ::mmap(nullptr, f->size_, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);  // the mapping keeps the file alive
    if (m == MAP_FAILED) fail(path, std::string("mmap failed: ") + std::strerror(errno));
    f->map_ = static_cast<const uint8_t*>(m);

    uint64_t header_len;
    std::memcpy(&header_len, f->map_, 8);  // little-endian hosts only (x86-64, aarch64)
    if (header_len > f->size_ - 8)
        fail(path, "header length " + std::to_string(header_len) + " at offset 0 exceeds the file size " +
                       std::to_string(f->size_) + " (truncated or not a safetensors file)");
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(f->map_ + 8, f->map_ + 8 + header_len);
    } catch (const nlohmann::json::exception& e) {
        fail(path, std::string("header JSON at offset 8 is corrupt: ") + e.what());
    }
    if (!header.is_object()) fail(path, "header JSON at offset 8 is not an object");

    const uint64_t data_start = 8 + header_len;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") continue;
        f->by_name_[name] = f->tensors_.size();
        f->tensors_.push_back(parse_entry(path, name, entry, f->map_, data_start, f->size_));
    }
    // Conversion reads each tensor once, front to back.
    ::madvise(const_cast<uint8_t*>(f->map_), f->size_, MADV_SEQUENTIAL);
    return f;
}

SafetensorsFile::~SafetensorsFile() {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
}

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

// ---------------------------------------------------------------------------- checkpoint

SafetensorsCheckpoint SafetensorsCheckpoint::open_dir(const std::filesystem::path& dir) {
    SafetensorsCheckpoint ck;
    const auto single = dir / "model.safetensors";
    const auto index_path = dir / "model.safetensors.index.json";
    std::error_code ec;

    if (std::filesystem::exists(single, ec)) {
        ck.files_.push_back(SafetensorsFile::open(single));
        for (const auto& t : ck.files_.back()->tensors()) ck.by_name_[t.name] = &t;
        return ck;
    }
    if (!std::filesystem::exists(index_path, ec))
        throw ModelFileError("no model.safetensors or model.safetensors.index.json in " + dir.string());

    const nlohmann::json index = read_json_file(index_path);
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        fail(index_path, "no \"weight_map\" object (tensor name -> shard file)");

    std::map<std::string, const SafetensorsFile*> shards;
    for (const auto& [tensor, shard_json] : index["weight_map"].items()) {
        if (!shard_json.is_string()) fail(index_path, "weight_map entry for '" + tensor + "' is not a file name");
        const std::string shard = shard_json.get<std::string>();
        if (shard.empty() || shard.find("..") != std::string::npos || shard.front() == '/')
            fail(index_path, "weight_map entry for '" + tensor + "' names an unsafe shard path '" + shard + "'");
        auto it = shards.find(shard);
        if (it == shards.end()) {
            const auto shard_path = dir / shard;
            if (!std::filesystem::exists(shard_path, ec))
                fail(index_path, "shard '" + shard + "' (listed for tensor '" + tensor + "') is missing");
            ck.files_.push_back(SafetensorsFile::open(shard_path));
            it = shards.emplace(shard, ck.files_.back().get()).first;
        }
        const SafetensorsTensor* t = it->second->find(tensor);
        if (!t) fail(index_path, "tensor '" + tensor + "' is listed in shard '" + shard + "' but that file lacks it");
        ck.by_name_[tensor] = t;
    }
    return ck;
}

const SafetensorsTensor* SafetensorsCheckpoint::find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
    std::vector<std::string> out;
    out.reserve(by_name_.size());
    for (const auto& kv : by_name_) out.push_back(kv.first);
    return out;
}

// ---------------------------------------------------------------------------- values

std::optional<DType> safetensors_float_dtype(const std::string& dtype_name) {
    if (dtype_name == "F32") return DType::F32;
    if (dtype_name == "F16") return DType::F16;
    if (dtype_name == "BF16") return DType::BF16;
    return std::nullopt;
}

void require_float_dtype(const SafetensorsTensor& t) {
    if (!safetensors_float_dtype(t.dtype_name))
        fail(t.file, "tensor '" + t.name + "' has dtype " + t.dtype_name + "; the converter reads F32, F16 and BF16");
}

void read_rows_f32(const SafetensorsTensor& t, int64_t first_row, int64_t n_rows, float* out) {
    const int64_t n = n_rows * t.cols();
    const uint64_t first = uint64_t(first_row * t.cols());
    const auto dtype = safetensors_float_dtype(t.dtype_name);
    assert(dtype && "read_rows_f32 needs a float tensor: call require_float_dtype first");
    // Source data has no alignment guarantee: read element by element through memcpy.
    switch (*dtype) {
        case DType::F32:
            std::memcpy(out, t.data + first * 4, uint64_t(n) * 4);
            break;
        case DType::F16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, t.data + (first + uint64_t(i)) * 2, 2);
                out[i] = f16_to_f32(h);
            }
            break;
        case DType::BF16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, t.data + (first + uint64_t(i)) * 2, 2);
                out[i] = bf16_to_f32(h);
            }
            break;
        default:
            break;  // unreachable: callers check require_float_dtype first
    }
}

}  // namespace ember
