// .ember reader (mmap + validation) and writer (temp file + rename). Layout: docs/format.md.
#include "runtime/model_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace ember {
namespace {

// Fixed prefix before the JSON header:
//   [0, 8)   magic "EMBERMDL"
//   [8, 12)  u32 format version
//   [12, 16) u32 reserved, zero
//   [16, 24) u64 header length in bytes (UTF-8 JSON)
//   [24, 24 + header length) JSON header
// Tensor data begins at the first multiple of kEmberAlignment after the header; tensor
// offsets in the JSON are relative to that data start.
constexpr uint64_t kPrefixBytes = 24;
constexpr uint64_t kMaxHeaderBytes = uint64_t(1) << 32;  // 4 GiB: far beyond any real header

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

template <typename T>
T read_le(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);  // little-endian hosts only (x86-64, aarch64)
    return v;
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
    throw ModelFileError(path.string() + ": " + what);
}

// Checks the fixed prefix (magic, version, header length against the file size) and
// returns the header length. `prefix`: the first kPrefixBytes of the file.
uint64_t checked_header_length(const std::filesystem::path& path, const uint8_t* prefix, uint64_t file_size) {
    if (std::memcmp(prefix, kEmberMagic, 8) != 0) fail(path, "not an .ember file (bad magic at offset 0)");
    uint32_t version = read_le<uint32_t>(prefix + 8);
    if (version != kEmberFormatVersion)
        fail(path, "unsupported .ember format version " + std::to_string(version) + " at offset 8 (this build reads " +
                       std::to_string(kEmberFormatVersion) + "); re-convert the model");
    uint64_t header_len = read_le<uint64_t>(prefix + 16);
    if (header_len == 0 || header_len > kMaxHeaderBytes || kPrefixBytes + header_len > file_size)
        fail(path, "header length " + std::to_string(header_len) + " at offset 16 exceeds the file size " +
                       std::to_string(file_size) + " (truncated or corrupt)");
    return header_len;
}

}  // namespace

int64_t TensorInfo::rows() const {
    int64_t r = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) r *= shape[i];
    return r;
}
int64_t TensorInfo::cols() const { return shape.empty() ? 1 : shape.back(); }

uint64_t tensor_bytes(DType dtype, const std::vector<int64_t>& shape) {
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
    int64_t cols = shape.empty() ? 1 : shape.back();
    return uint64_t(rows) * uint64_t(dtype_row_bytes(dtype, cols));
}

// ---------------------------------------------------------------------------- reader

std::unique_ptr<ModelFile> ModelFile::open(const std::filesystem::path& path) {
    std::unique_ptr<ModelFile> mf(new ModelFile());
    mf->path_ = path;

    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        fail(path, std::string("cannot stat: ") + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(path, "not a regular file");
    }
    mf->size_ = uint64_t(st.st_size);
    if (mf->size_ < kPrefixBytes) {
        ::close(fd);
        fail(path, "file is " + std::to_string(mf->size_) + " bytes, too short for an .ember header (truncated?)");
    }
    void* m = ::mmap(nullptr, mf->size_, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);  // the mapping keeps the file alive
    if (m == MAP_FAILED) fail(path, std::string("mmap failed: ") + std::strerror(errno));
    mf->map_ = static_cast<const uint8_t*>(m);

    const uint8_t* p = mf->map_;
    const uint64_t header_len = checked_header_length(path, p, mf->size_);

    nlohmann::json header;
    try {
        header = nlohmann::json::parse(p + kPrefixBytes, p + kPrefixBytes + header_len);
    } catch (const nlohmann::json::exception& e) {
        fail(path, std::string("header JSON at offset 24 is corrupt: ") + e.what());
    }
    if (!header.is_object() || !header.contains("tensors") || !header["tensors"].is_array())
        fail(path, "header has no \"tensors\" array");

    const uint64_t data_start = align_up(kPrefixBytes + header_len, kEmberAlignment);
    for (const auto& jt : header["tensors"]) {
        TensorInfo t;
        try {
            t.name = jt.at("name").get<std::string>();
            std::string dt = jt.at("dtype").get<std::string>();
            auto d = dtype_from_name(dt);
            if (!d) fail(path, "tensor '" + t.name + "' has unknown dtype '" + dt + "'");
            t.dtype = *d;
            t.shape = jt.at("shape").get<std::vector<int64_t>>();
            t.offset = data_start + jt.at("offset").get<uint64_t>();
            t.size = jt.at("size").get<uint64_t>();
        } catch (const nlohmann::json::exception& e) {
            fail(path, "tensor entry '" + t.name + "' in the header is malformed: " + e.what());
        }
        for (int64_t dim : t.shape)
            if (dim <= 0) fail(path, "tensor '" + t.name + "' has a non-positive dimension");
        if (t.shape.empty()) fail(path, "tensor '" + t.name + "' has an empty shape");
        uint64_t expect = tensor_bytes(t.dtype, t.shape);
        if (t.size != expect)
            fail(path, "tensor '" + t.name + "' at offset " + std::to_string(t.offset) + " has size " +
                           std::to_string(t.size) + " but its dtype and shape need " + std::to_string(expect));
        if (t.offset % kEmberAlignment != 0)
            fail(path, "tensor '" + t.name + "' offset " + std::to_string(t.offset) + " is not " +
                           std::to_string(kEmberAlignment) + "-byte aligned");
        if (t.offset > mf->size_ || t.size > mf->size_ - t.offset)
            fail(path, "tensor '" + t.name + "' [offset " + std::to_string(t.offset) + ", size " +
                           std::to_string(t.size) + "] extends past the end of the file (" +
                           std::to_string(mf->size_) + " bytes): truncated?");
        if (mf->by_name_.count(t.name)) fail(path, "tensor '" + t.name + "' appears twice");
        t.data = mf->map_ + t.offset;
        mf->by_name_[t.name] = mf->tensors_.size();
        mf->tensors_.push_back(std::move(t));
    }
    header.erase("tensors");
    mf->header_ = std::move(header);
    return mf;
}

nlohmann::json read_model_header(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) fail(path, "not a regular file");
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) fail(path, "cannot stat: " + ec.message());
    if (size < kPrefixBytes)
        fail(path, "file is " + std::to_string(size) + " bytes, too short for an .ember header (truncated?)");
    uint8_t prefix[kPrefixBytes];
    in.read(reinterpret_cast<char*>(prefix), kPrefixBytes);
    const uint64_t header_len = checked_header_length(path, prefix, size);
    std::string text(header_len, '\0');
    if (!in.read(text.data(), std::streamsize(header_len))) fail(path, "cannot read the header");
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        fail(path, std::string("header JSON at offset 24 is corrupt: ") + e.what());
    }
    if (!header.is_object() || !header.contains("tensors") || !header["tensors"].is_array())
        fail(path, "header has no \"tensors\" array");
    return header;
}

ModelFile::~ModelFile() {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
}

bool ModelFile::has(const std::string& name) const { return by_name_.count(name) != 0; }

const TensorInfo& ModelFile::tensor(const std::string& name) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) fail(path_, "tensor '" + name + "' is missing");
    return tensors_[it->second];
}

// ---------------------------------------------------------------------------- writer

namespace {
void write_all(int fd, const void* data, uint64_t n, const std::filesystem::path& path) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
        ssize_t w = ::write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw ModelFileError(path.string() + ": write failed: " + std::strerror(errno));
        }
        p += w;
        n -= uint64_t(w);
    }
}
void write_zeros(int fd, uint64_t n, const std::filesystem::path& path) {
    static const uint8_t zeros[kEmberAlignment] = {};
    while (n > 0) {
        uint64_t k = n < sizeof zeros ? n : sizeof zeros;
        write_all(fd, zeros, k, path);
        n -= k;
    }
}
}  // namespace

ModelFileWriter::ModelFileWriter(std::filesystem::path path, nlohmann::json header, std::vector<TensorInfo> plan)
    : path_(std::move(path)), plan_(std::move(plan)) {
    // Offsets are relative to the data start, so the header can be written first.
    nlohmann::json dir = nlohmann::json::array();
    uint64_t off = 0;
    for (auto& t : plan_) {
        t.size = tensor_bytes(t.dtype, t.shape);
        t.offset = off;
        off = align_up(off + t.size, kEmberAlignment);
        dir.push_back({{"name", t.name},
                       {"dtype", std::string(dtype_name(t.dtype))},
                       {"shape", t.shape},
                       {"offset", t.offset},
                       {"size", t.size}});
    }
    header["tensors"] = std::move(dir);
    std::string text = header.dump();

    tmp_path_ = path_;
    tmp_path_ += ".tmp." + std::to_string(::getpid());
    fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw ModelFileError(tmp_path_.string() + ": cannot create: " + std::strerror(errno));

    uint8_t prefix[kPrefixBytes] = {};
    std::memcpy(prefix, kEmberMagic, 8);
    uint32_t version = kEmberFormatVersion;
    std::memcpy(prefix + 8, &version, 4);
    uint64_t len = text.size();
    std::memcpy(prefix + 16, &len, 8);
    write_all(fd_, prefix, kPrefixBytes, tmp_path_);
    write_all(fd_, text.data(), text.size(), tmp_path_);
    write_zeros(fd_, align_up(kPrefixBytes + len, kEmberAlignment) - (kPrefixBytes + len), tmp_path_);
}

void ModelFileWriter::write_next(const std::string& name, const void* data, uint64_t bytes) {
    if (next_ >= plan_.size())
        throw ModelFileError(path_.string() + ": tensor '" + name + "' written but all planned tensors are done");
    const TensorInfo& t = plan_[next_];
    if (t.name != name)
        throw ModelFileError(path_.string() + ": expected tensor '" + t.name + "' next, got '" + name + "'");
    if (bytes != t.size)
        throw ModelFileError(path_.string() + ": tensor '" + name + "' has " + std::to_string(bytes) +
                             " bytes, planned " + std::to_string(t.size));
    write_all(fd_, data, bytes, tmp_path_);
    write_zeros(fd_, align_up(t.size, kEmberAlignment) - t.size, tmp_path_);
    ++next_;
}

void ModelFileWriter::finish() {
    if (next_ != plan_.size())
        throw ModelFileError(path_.string() + ": only " + std::to_string(next_) + " of " +
                             std::to_string(plan_.size()) + " tensors were written");
    if (::fsync(fd_) != 0) throw ModelFileError(tmp_path_.string() + ": fsync failed: " + std::strerror(errno));
    if (::close(fd_) != 0) {
        fd_ = -1;
        throw ModelFileError(tmp_path_.string() + ": close failed: " + std::strerror(errno));
    }
    fd_ = -1;
    if (::rename(tmp_path_.c_str(), path_.c_str()) != 0)
        throw ModelFileError(path_.string() + ": cannot rename temp file into place: " + std::strerror(errno));
    finished_ = true;
}

ModelFileWriter::~ModelFileWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!finished_) ::unlink(tmp_path_.c_str());  // never leave a half-written model behind
}

}  // namespace ember
