// Tiny HF checkpoints for the converter tests.
#include "fake_hf.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "kernels/half.h"

namespace ember::test {

TempDir::TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("ember-convert-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::vector<float> StTensor::values() const {
    std::vector<float> out;
    if (dtype == "F32") {
        out.resize(bytes.size() / 4);
        std::memcpy(out.data(), bytes.data(), bytes.size());
        return out;
    }
    for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
        uint16_t h;
        std::memcpy(&h, bytes.data() + i, 2);
        out.push_back(dtype == "F16" ? f16_to_f32(h) : bf16_to_f32(h));
    }
    return out;
}

StTensor random_tensor(const std::string& name, const std::string& dtype, std::vector<int64_t> shape, uint32_t seed) {
    StTensor t{name, dtype, std::move(shape), {}};
    int64_t n = 1;
    for (auto d : t.shape) n *= d;
    uint32_t state = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; ++i) {
        state = state * 1664525u + 1013904223u;  // LCG: reproducible without <random>'s unspecified distributions
        const float v = float(int32_t(state >> 8) - (1 << 23)) / float(1 << 23);
        if (dtype == "F32") {
            uint8_t b[4];
            std::memcpy(b, &v, 4);
            t.bytes.insert(t.bytes.end(), b, b + 4);
        } else {
            const uint16_t h = dtype == "F16" ? f32_to_f16(v) : f32_to_bf16(v);
            uint8_t b[2];
            std::memcpy(b, &h, 2);
            t.bytes.insert(t.bytes.end(), b, b + 2);
        }
    }
    return t;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<StTensor>& tensors) {
    nlohmann::json header = {{"__metadata__", {{"format", "pt"}}}};
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
        offset += t.bytes.size();
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // as the reference writer does: data 8-byte aligned
    std::ofstream out(path, std::ios::binary);
    const uint64_t len = text.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out.write(text.data(), std::streamsize(text.size()));
    for (const auto& t : tensors) out.write(reinterpret_cast<const char*>(t.bytes.data()), std::streamsize(t.bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const StTensor& FakeModel::tensor(const std::string& name) const {
    for (const auto& t : tensors)
        if (t.name == name) return t;
    throw std::runtime_error("fake model has no tensor " + name);
}

StTensor& FakeModel::tensor(const std::string& name) {
    return const_cast<StTensor&>(static_cast<const FakeModel&>(*this).tensor(name));
}

void FakeModel::remove(const std::string& name) {
    tensors.erase(std::remove_if(tensors.begin(), tensors.end(), [&](const StTensor& t) { return t.name == name; }),
                  tensors.end());
}

namespace {

// HF's names and shapes for a Llama-style decoder, written out independently of
// runtime/model_config.cpp so a mistake there is caught rather than mirrored.
FakeModel make_model(nlohmann::json config, const std::string& dtype, bool qkv_bias, bool ship_lm_head) {
    FakeModel m{std::move(config), {}};
    const int64_t v = m.config["vocab_size"], h = m.config["hidden_size"], f = m.config["intermediate_size"];
    const int64_t heads = m.config["num_attention_heads"], kv_heads = m.config["num_key_value_heads"];
    const int64_t hd = m.config.value("head_dim", h / heads);
    uint32_t seed = 1;
    auto add = [&](const std::string& name, std::vector<int64_t> shape) {
        m.tensors.push_back(random_tensor(name, dtype, std::move(shape), seed++));
    };
    add("model.embed_tokens.weight", {v, h});
    for (int l = 0; l < int(m.config["num_hidden_layers"]); ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        add(p + "input_layernorm.weight", {h});
        add(p + "self_attn.q_proj.weight", {heads * hd, h});
        add(p + "self_attn.k_proj.weight", {kv_heads * hd, h});
        add(p + "self_attn.v_proj.weight", {kv_heads * hd, h});
        if (qkv_bias) {
            add(p + "self_attn.q_proj.bias", {heads * hd});
            add(p + "self_attn.k_proj.bias", {kv_heads * hd});
            add(p + "self_attn.v_proj.bias", {kv_heads * hd});
        }
        add(p + "self_attn.o_proj.weight", {h, heads * hd});
        add(p + "post_attention_layernorm.weight", {h});
        add(p + "mlp.gate_proj.weight", {f, h});
        add(p + "mlp.up_proj.weight", {f, h});
        add(p + "mlp.down_proj.weight", {h, f});
    }
    add("model.norm.weight", {h});
    if (ship_lm_head) add("lm_head.weight", {v, h});
    return m;
}

}  // namespace

FakeModel tiny_llama(const std::string& dtype) {
    nlohmann::json config = {
        {"architectures", {"LlamaForCausalLM"}},
        {"model_type", "llama"},
        {"vocab_size", 40},
        {"hidden_size", 48},
        {"intermediate_size", 40},
        {"num_hidden_layers", 2},
        {"num_attention_heads", 4},
        {"num_key_value_heads", 2},
        {"head_dim", 12},
        {"max_position_embeddings", 128},
        {"rms_norm_eps", 1e-5},
        {"rope_theta", 10000.0},
        {"rope_scaling", nullptr},
        {"attention_bias", false},
        {"tie_word_embeddings", false},
        {"bos_token_id", 1},
        {"eos_token_id", 2},
        {"hidden_act", "silu"},
        {"torch_dtype", dtype == "F32" ? "float32" : dtype == "F16" ? "float16" : "bfloat16"},
    };
    return make_model(std::move(config), dtype, false, true);
}

FakeModel tiny_qwen2(const std::string& dtype) {
    nlohmann::json config = {
        {"architectures", {"Qwen2ForCausalLM"}},
        {"model_type", "qwen2"},
        {"vocab_size", 50},
        {"hidden_size", 64},
        {"intermediate_size", 72},
        {"num_hidden_layers", 2},
        {"num_attention_heads", 4},
        {"num_key_value_heads", 2},
        {"max_position_embeddings", 256},
        {"rms_norm_eps", 1e-6},
        {"rope_theta", 1000000.0},
        {"tie_word_embeddings", true},
        {"use_sliding_window", false},
        {"sliding_window", 256},
        {"bos_token_id", 45},
        {"eos_token_id", 46},
        {"torch_dtype", "bfloat16"},
    };
    return make_model(std::move(config), dtype, true, true);
}

void write_hf_dir(const std::filesystem::path& dir, const FakeModel& m) {
    std::filesystem::create_directories(dir);
    write_text(dir / "config.json", m.config.dump(2));
    write_safetensors(dir / "model.safetensors", m.tensors);
}

void write_hf_dir_sharded(const std::filesystem::path& dir, const FakeModel& m, int n_shards) {
    std::filesystem::create_directories(dir);
    write_text(dir / "config.json", m.config.dump(2));
    nlohmann::json weight_map = nlohmann::json::object();
    for (int s = 0; s < n_shards; ++s) {
        char name[64];
        std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
        std::vector<StTensor> part;
        for (size_t i = size_t(s); i < m.tensors.size(); i += size_t(n_shards)) {
            part.push_back(m.tensors[i]);
            weight_map[m.tensors[i].name] = name;
        }
        write_safetensors(dir / name, part);
    }
    write_text(dir / "model.safetensors.index.json",
               nlohmann::json({{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}).dump(2));
}

std::vector<std::string> dir_entries(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace ember::test
