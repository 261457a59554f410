// The .ember model file: reading (mmap, validated) and writing (atomic).
// The byte layout is specified in docs/format.md; this is its only implementation.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/dtype.h"

namespace ember {

// Every problem with a model file (or converter input) is reported with this, and the
// message names the file and, where there is one, the tensor and byte offset.
struct ModelFileError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

constexpr char kEmberMagic[8] = {'E', 'M', 'B', 'E', 'R', 'M', 'D', 'L'};
constexpr uint32_t kEmberFormatVersion = 1;
constexpr uint64_t kEmberAlignment = 64;  // every tensor's data starts at a multiple of this

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;  // outermost first, e.g. [rows, cols] for a weight matrix
    uint64_t offset = 0;         // absolute byte offset in the file
    uint64_t size = 0;           // bytes
    const uint8_t* data = nullptr;  // into the mapping (reader only)

    int64_t rows() const;  // product of all but the last dim (1 for a scalar)
    int64_t cols() const;  // last dim
};

// A read-only, validated view of a .ember file. Opening checks magic, version, header
// JSON, and that every tensor's dtype is known and its (offset, size) is aligned, inside
// the file and consistent with its shape. Errors throw ModelFileError.
class ModelFile {
public:
    static std::unique_ptr<ModelFile> open(const std::filesystem::path& path);
    ~ModelFile();
    ModelFile(const ModelFile&) = delete;
    ModelFile& operator=(const ModelFile&) = delete;

    const std::filesystem::path& path() const { return path_; }
    const nlohmann::json& header() const { return header_; }  // everything but the tensor directory
    uint64_t file_size() const { return size_; }

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    bool has(const std::string& name) const;
    // Throws ModelFileError naming the file and tensor if it is missing.
    const TensorInfo& tensor(const std::string& name) const;

private:
    ModelFile() = default;
    std::filesystem::path path_;
    nlohmann::json header_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t> by_name_;
    const uint8_t* map_ = nullptr;
    uint64_t size_ = 0;
};

// Writes a .ember file. Tensors are streamed to "<path>.tmp.<pid>" in the order they are
// added; finish() writes the header and renames over `path`, so a failed or interrupted
// conversion never leaves a half-written model behind (the destructor removes the temp).
class ModelFileWriter {
public:
    // header: architecture config, tokenizer, chat template, generation defaults.
    // tensor_plan: every tensor's name, dtype, shape, in the order they will be written;
    // sizes follow from dtype and shape. Offsets are assigned here.
    ModelFileWriter(std::filesystem::path path, nlohmann::json header, std::vector<TensorInfo> tensor_plan);
    ~ModelFileWriter();

    // Write the data of the next planned tensor (must be its exact size in bytes).
    void write_next(const std::string& name, const void* data, uint64_t bytes);
    // All planned tensors written: fsync, rename into place.
    void finish();

private:
    std::filesystem::path path_, tmp_path_;
    std::vector<TensorInfo> plan_;
    size_t next_ = 0;
    int fd_ = -1;
    bool finished_ = false;
};

// The header JSON of a .ember file (config, tokenizer, ..., and the "tensors" directory)
// read with plain reads, without mapping or touching the tensor data: for the memory
// planner, which must size a model before loading it. Checks magic, version and header
// length like ModelFile::open; throws ModelFileError naming the file.
nlohmann::json read_model_header(const std::filesystem::path& path);

// Bytes a tensor of this dtype and shape occupies (rows * dtype_row_bytes(cols)).
uint64_t tensor_bytes(DType dtype, const std::vector<int64_t>& shape);

}  // namespace ember
