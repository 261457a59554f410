// Builders for tiny Hugging Face checkpoint directories, written from C++ so the converter
// tests need no Python and nothing from ../shared: safetensors files, config.json, shards.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ember::test {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

// One tensor as it will appear in a safetensors file. `dtype` is the safetensors name
// ("F32", "BF16", "I64", ...); `bytes` is its raw little-endian data.
struct StTensor {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;

    std::vector<float> values() const;  // F32 / F16 / BF16 decoded to f32
};

// Deterministic pseudo-random values in about [-1, 1], stored as F32, F16 or BF16.
StTensor random_tensor(const std::string& name, const std::string& dtype, std::vector<int64_t> shape, uint32_t seed);

// Writes a safetensors file: u64 header length, JSON header, data in the given order.
void write_safetensors(const std::filesystem::path& path, const std::vector<StTensor>& tensors);
void write_text(const std::filesystem::path& path, const std::string& text);
std::vector<uint8_t> read_bytes(const std::filesystem::path& path);

// A tiny model of a supported architecture: config.json content and tensors in HF naming.
struct FakeModel {
    nlohmann::json config;
    std::vector<StTensor> tensors;

    StTensor& tensor(const std::string& name);  // throws if absent
    const StTensor& tensor(const std::string& name) const;
    void remove(const std::string& name);
};

// Llama: vocab 40, hidden 48 (not a multiple of 32, so q8/q4 rows are padded), 2 layers,
// 4 heads / 2 kv heads, head_dim 12, intermediate 40, untied (has lm_head).
FakeModel tiny_llama(const std::string& dtype = "F32");
// Qwen2: vocab 50, hidden 64, 2 layers, 4 heads / 2 kv heads, intermediate 72, q/k/v biases,
// tied embeddings (and, as some checkpoints do, still ships an lm_head.weight copy).
FakeModel tiny_qwen2(const std::string& dtype = "F32");

// config.json + model.safetensors.
void write_hf_dir(const std::filesystem::path& dir, const FakeModel& m);
// config.json + `n_shards` shard files + model.safetensors.index.json.
void write_hf_dir_sharded(const std::filesystem::path& dir, const FakeModel& m, int n_shards);

// Names of the entries of a directory (to check nothing was left behind).
std::vector<std::string> dir_entries(const std::filesystem::path& dir);

}  // namespace ember::test
