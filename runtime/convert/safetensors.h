// Read-only, validated access to Hugging Face .safetensors checkpoints: one file or shards
// listed in model.safetensors.index.json. A file is an 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {...}}
// and the raw data; offsets are relative to the end of the header. Files are mmapped.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/dtype.h"

namespace ember {

struct SafetensorsTensor {
    std::string name;
    std::string dtype_name;        // as spelled in the file: "F32", "BF16", "I64", ...
    std::vector<int64_t> shape;    // outermost first
    const uint8_t* data = nullptr;  // into the mapping; not aligned in general
    uint64_t size = 0;              // bytes
    uint64_t file_offset = 0;       // absolute byte offset of the data in its file
    std::filesystem::path file;     // the file (shard) holding it

    int64_t rows() const;  // product of all but the last dim (1 for a vector)
    int64_t cols() const;  // last dim
};

// One .safetensors file. open() checks the header length, the JSON, every dtype name, that
// each tensor's [begin, end) lies inside the data section and that its size matches
// dtype and shape. Problems throw ModelFileError naming the file (and tensor).
class SafetensorsFile {
public:
    static std::unique_ptr<SafetensorsFile> open(const std::filesystem::path& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::filesystem::path& path() const { return path_; }
    const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
    const SafetensorsTensor* find(const std::string& name) const;  // nullptr if absent

private:
    SafetensorsFile() = default;
    std::filesystem::path path_;
    std::vector<SafetensorsTensor> tensors_;
    std::map<std::string, size_t> by_name_;
    const uint8_t* map_ = nullptr;
    uint64_t size_ = 0;
};

// All tensors of a checkpoint directory: "model.safetensors", else the shards named by
// "model.safetensors.index.json" (its weight_map: tensor -> shard file).
class SafetensorsCheckpoint {
public:
    // Throws ModelFileError if neither file exists, a shard is missing, or a tensor the
    // index lists is not in its shard.
    static SafetensorsCheckpoint open_dir(const std::filesystem::path& dir);

    const SafetensorsTensor* find(const std::string& name) const;  // nullptr if absent
    std::vector<std::string> names() const;                          // sorted
    size_t file_count() const { return files_.size(); }

private:
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, const SafetensorsTensor*> by_name_;
};

// The source element types the converter reads: F32, F16, BF16 (nullopt for anything else).
std::optional<DType> safetensors_float_dtype(const std::string& dtype_name);

// Throws ModelFileError naming file, tensor and dtype unless it is F32, F16 or BF16.
void require_float_dtype(const SafetensorsTensor& t);

// Rows [first_row, first_row + n_rows) of `t` (viewed as rows() x cols()) as f32 into
// out[n_rows * cols()]. Requires a float dtype (require_float_dtype); never throws, so it
// may run inside an OpenMP loop.
void read_rows_f32(const SafetensorsTensor& t, int64_t first_row, int64_t n_rows, float* out);

}  // namespace ember
