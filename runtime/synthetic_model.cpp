// Built-in model shapes and Model::synthetic: random weights of the right shapes and
// storage types, written straight into quantized blocks (no float weights are made), in
// parallel over rows and reproducible from a seed whatever the thread count.
#include "runtime/synthetic_model.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <map>
#include <new>

#include "kernels/half.h"
#include "kernels/quant.h"
#include "runtime/memory_stats.h"
#include "runtime/model.h"

namespace ember {
namespace {

// The published config.json values of each model (../shared/configs/<name>/config.json;
// eos ids merged with generation_config.json as the converter does). head_dim is
// hidden / heads for all of them; Qwen2 has q/k/v biases, Llama does not.
struct ShapeRow {
    const char* name;
    const char* alias;
    const char* arch;
    int64_t vocab, hidden, intermediate, layers, heads, kv_heads, max_position;
    double rms_eps, rope_theta;
    bool tied_embeddings;
    int64_t bos;
    std::vector<int64_t> eos;
};

std::vector<SyntheticSpec> build_table() {
    // clang-format off
    const ShapeRow rows[] = {
        // name                           alias               arch     vocab   hidden ffn    layers heads kv max_pos eps   theta tied   bos     eos
        {"Qwen2.5-0.5B-Instruct",         "qwen2.5-0.5b",     "qwen2", 151936,  896,  4864, 24,    14,   2, 32768,  1e-6, 1e6,  true,  151643, {151645, 151643}},
        {"Qwen2.5-1.5B-Instruct",         "qwen2.5-1.5b",     "qwen2", 151936, 1536,  8960, 28,    12,   2, 32768,  1e-6, 1e6,  true,  151643, {151645, 151643}},
        {"Qwen2.5-7B-Instruct",           "qwen2.5-7b",       "qwen2", 152064, 3584, 18944, 28,    28,   4, 32768,  1e-6, 1e6,  false, 151643, {151645, 151643}},
        {"DeepSeek-R1-Distill-Qwen-1.5B", "deepseek-r1-1.5b", "qwen2", 151936, 1536,  8960, 28,    12,   2, 131072, 1e-6, 1e4,  false, 151646, {151643}},
        {"Llama-3.2-1B-Instruct",         "llama-3.2-1b",     "llama", 128256, 2048,  8192, 16,    32,   8, 131072, 1e-5, 5e5,  true,  128000, {128001, 128008, 128009}},
        {"Meta-Llama-3-8B-Instruct",      "llama-3-8b",       "llama", 128256, 4096, 14336, 32,    32,   8, 8192,   1e-5, 5e5,  false, 128000, {128009}},
        {"TinyLlama-1.1B-Chat-v1.0",      "tinyllama-1.1b",   "llama",  32000, 2048,  5632, 22,    32,   4, 2048,   1e-5, 1e4,  false, 1,      {2}},
        {"SmolLM2-135M-Instruct",         "smollm2-135m",     "llama",  49152,  576,  1536, 30,     9,   3, 8192,   1e-5, 1e5,  true,  1,      {2}},
    };
    // clang-format on
    std::vector<SyntheticSpec> table;
    for (const ShapeRow& r : rows) {
        ModelConfig c;
        c.arch = r.arch;
        c.vocab_size = r.vocab;
        c.hidden_size = r.hidden;
        c.intermediate_size = r.intermediate;
        c.n_layers = r.layers;
        c.n_heads = r.heads;
        c.n_kv_heads = r.kv_heads;
        c.head_dim = r.hidden / r.heads;
        c.max_position = r.max_position;
        c.rms_eps = r.rms_eps;
        c.rope_theta = r.rope_theta;
        c.qkv_bias = c.arch == "qwen2";
        c.tie_embeddings = r.tied_embeddings;
        c.bos_token_id = r.bos;
        c.eos_token_ids = r.eos;
        table.push_back({r.name, r.alias, c});
    }
    // Llama 3.2: rope_scaling {"rope_type": "llama3", "factor": 32, "low_freq_factor": 1,
    // "high_freq_factor": 4, "original_max_position_embeddings": 8192}.
    for (SyntheticSpec& s : table) {
        if (s.name != "Llama-3.2-1B-Instruct") continue;
        RopeScaling& rs = s.config.rope_scaling;
        rs.type = "llama3";
        rs.factor = 32.0;
        rs.low_freq_factor = 1.0;
        rs.high_freq_factor = 4.0;
        rs.original_max_position = 8192;
    }
    return table;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& ch : out) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    return out;
}

// ------------------------------------------------------------------ random numbers

uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// xorshift64*: fast, and plenty for random weights. One stream per (tensor, row), so the
// weights do not depend on how rows are split among threads.
struct RowRng {
    uint64_t s;
    RowRng(uint64_t seed, uint64_t tensor, uint64_t row)
        : s(splitmix64(seed ^ splitmix64(tensor * 0x100000001B3ull + row)) | 1) {}
    uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545F4914F6CDD1Dull;
    }
    float uniform01() { return float(next() >> 40) * (1.0f / 16777216.0f); }  // [0, 1)
};

// Weight standard deviation: HF's initializer_range. With rmsnorm before every matmul the
// activations stay O(1)..O(10) through the whole stack, so logits are finite.
constexpr float kWeightStd = 0.02f;
// Uniform on [-a, a) has standard deviation a / sqrt(3).
constexpr float kUniformHalfWidth = kWeightStd * 1.7320508f;

// q4: nibbles uniform on 0..15 (values -8..7, std ~4.6); per-block scale of random sign
// and magnitude in [0.5, 1) x d so the weights' std is about kWeightStd.
void fill_row_q4(BlockQ4* blocks, int64_t cols, RowRng& rng) {
    const int64_t nb = quant_blocks_per_row(cols);
    const float d = kWeightStd / 4.6f / 0.75f;
    for (int64_t b = 0; b < nb; ++b) {
        const float mag = d * (0.5f + 0.5f * rng.uniform01());
        blocks[b].scale_f16 = f32_to_f16((rng.next() & 1) ? mag : -mag);
        const uint64_t lo = rng.next(), hi = rng.next();
        std::memcpy(blocks[b].q, &lo, 8);
        std::memcpy(blocks[b].q + 8, &hi, 8);
        const int64_t valid = std::min<int64_t>(kQBlock, cols - b * kQBlock);
        for (int64_t i = valid; i < kQBlock; ++i) {  // padded tail: value 0 = nibble 8
            uint8_t& byte = blocks[b].q[i % 16];
            byte = i < 16 ? uint8_t((byte & 0xF0) | 8) : uint8_t((byte & 0x0F) | 0x80);
        }
    }
}

// q8: int8 uniform on -127..127 (std ~73), scale as for q4.
void fill_row_q8(BlockQ8* blocks, int64_t cols, RowRng& rng) {
    const int64_t nb = quant_blocks_per_row(cols);
    const float d = kWeightStd / 73.0f / 0.75f;
    for (int64_t b = 0; b < nb; ++b) {
        const float mag = d * (0.5f + 0.5f * rng.uniform01());
        blocks[b].scale_f16 = f32_to_f16((rng.next() & 1) ? mag : -mag);
        for (int i = 0; i < kQBlock; i += 8) {
            const uint64_t r = rng.next();
            std::memcpy(blocks[b].q + i, &r, 8);
        }
        const int64_t valid = std::min<int64_t>(kQBlock, cols - b * kQBlock);
        for (int i = 0; i < kQBlock; ++i) {
            if (i >= valid)
                blocks[b].q[i] = 0;
            else if (blocks[b].q[i] == -128)
                blocks[b].q[i] = -127;
        }
    }
}

void fill_row_f32(float* out, int64_t cols, RowRng& rng, float half_width) {
    const float scale = half_width / 2147483648.0f;
    for (int64_t i = 0; i < cols; ++i) out[i] = float(int32_t(uint32_t(rng.next() >> 32))) * scale;
}

// f16 / bf16: 4096 precomputed uniform values, picked by 12 random bits each (converting
// every weight would dominate the generation time of the large shapes).
struct HalfTable {
    std::array<uint16_t, 4096> f16{}, bf16{};
    HalfTable() {
        for (int i = 0; i < 4096; ++i) {
            const float v = (float(i) + 0.5f) / 2048.0f - 1.0f;  // (-1, 1)
            f16[size_t(i)] = f32_to_f16(v * kUniformHalfWidth);
            bf16[size_t(i)] = f32_to_bf16(v * kUniformHalfWidth);
        }
    }
};

void fill_row_half(uint16_t* out, int64_t cols, RowRng& rng, const std::array<uint16_t, 4096>& table) {
    for (int64_t i = 0; i < cols; i += 4) {
        uint64_t r = rng.next();
        for (int64_t k = i; k < std::min(cols, i + 4); ++k, r >>= 16) out[k] = table[size_t(r & 4095)];
    }
}

void fill_matrix(const MatrixView& m, uint8_t* data, uint64_t seed, uint64_t tensor_id) {
    static const HalfTable halves;
#pragma omp parallel for schedule(dynamic, 64) if (m.rows * m.row_bytes > (int64_t(1) << 20))
    for (int64_t r = 0; r < m.rows; ++r) {
        RowRng rng(seed, tensor_id, uint64_t(r));
        uint8_t* row = data + r * m.row_bytes;
        switch (m.dtype) {
            case DType::Q4:
                fill_row_q4(reinterpret_cast<BlockQ4*>(row), m.cols, rng);
                break;
            case DType::Q8:
                fill_row_q8(reinterpret_cast<BlockQ8*>(row), m.cols, rng);
                break;
            case DType::F32:
                fill_row_f32(reinterpret_cast<float*>(row), m.cols, rng, kUniformHalfWidth);
                break;
            case DType::F16:
                fill_row_half(reinterpret_cast<uint16_t*>(row), m.cols, rng, halves.f16);
                break;
            case DType::BF16:
                fill_row_half(reinterpret_cast<uint16_t*>(row), m.cols, rng, halves.bf16);
                break;
            case DType::U8:
                std::memset(row, 0, size_t(m.row_bytes));
                break;  // not a weight type; rejected earlier
        }
    }
}

uint64_t align64(uint64_t n) {
    return (n + 63) / 64 * 64;
}

bool is_embedding(const std::string& name) {
    return name == "model.embed_tokens.weight" || name == "lm_head.weight";
}

DType tensor_dtype(const ExpectedTensor& t, DType body, DType embed) {
    if (!t.is_matrix) return DType::F32;
    return is_embedding(t.name) ? embed : body;
}

}  // namespace

const std::vector<SyntheticSpec>& synthetic_models() {
    static const std::vector<SyntheticSpec> table = build_table();
    return table;
}

const SyntheticSpec* find_synthetic_model(std::string_view name) {
    const std::string want = lower(name);
    for (const auto& s : synthetic_models()) {
        const std::string full = lower(s.name);
        if (want == full || want == lower(s.alias)) return &s;
        // "qwen2.5-0.5b-instruct", "meta-llama-3-8b", "tinyllama-1.1b-chat", "deepseek-r1-distill-qwen-1.5b"
        for (const char* suffix : {"-instruct", "-chat-v1.0", "-v1.0"}) {
            const std::string sfx = suffix;
            if (full.size() > sfx.size() && full.ends_with(sfx) &&
                want == full.substr(0, full.size() - sfx.size()))
                return &s;
        }
        if (full.starts_with("meta-") && want == full.substr(5)) return &s;
    }
    return nullptr;
}

DType default_embed_type(DType body) {
    return body == DType::Q4 ? DType::Q8 : body;
}

int64_t model_param_count(const ModelConfig& c) {
    int64_t n = 0;
    for (const auto& t : expected_tensors(c)) {
        int64_t e = 1;
        for (int64_t d : t.shape) e *= d;
        n += e;
    }
    return n;
}

uint64_t model_weight_bytes(const ModelConfig& c, DType body, DType embed) {
    uint64_t bytes = 0;
    for (const auto& t : expected_tensors(c)) bytes += tensor_bytes(tensor_dtype(t, body, embed), t.shape);
    return bytes;
}

// Declared in runtime/model.h: a Model whose weights live in one owned buffer.
std::unique_ptr<Model> Model::synthetic(const ModelConfig& config, DType body, DType embed, uint64_t seed) {
    config.validate();
    for (DType d : {body, embed})
        if (d == DType::U8)
            throw std::invalid_argument("u8 is not a weight type (use f32, f16, bf16, q8 or q4)");
    auto model = std::make_unique<Model>();
    model->config_ = config;
    const ModelConfig& c = model->config_;

    // Lay every tensor out in one buffer, 64-byte aligned like a .ember file, except that
    // k, v follow q and up follows gate without a gap: they can then be fused
    // (fuse_projections), also after the in-place repack.
    const std::vector<ExpectedTensor> plan = expected_tensors(c);
    std::vector<uint64_t> offsets;
    uint64_t total = 0;
    for (const auto& t : plan) {
        if (!packs_after_previous_tensor(t.name)) total = align64(total);
        offsets.push_back(total);
        total += tensor_bytes(tensor_dtype(t, body, embed), t.shape);
    }
    total = align64(total);
    auto* raw = static_cast<uint8_t*>(::operator new[](std::max<uint64_t>(total, 64), std::align_val_t{64}));
    model->synthetic_weights_ =
        std::shared_ptr<uint8_t[]>(raw, [](uint8_t* p) { ::operator delete[](p, std::align_val_t{64}); });

    std::map<std::string, MatrixView> matrices;
    std::map<std::string, const float*> vectors;
    for (size_t i = 0; i < plan.size(); ++i) {
        const ExpectedTensor& t = plan[i];
        uint8_t* data = raw + offsets[i];
        if (t.is_matrix) {
            MatrixView m;
            m.dtype = tensor_dtype(t, body, embed);
            m.rows = t.shape[0];
            m.cols = t.shape[1];
            m.data = data;
            m.row_bytes = dtype_row_bytes(m.dtype, m.cols);
            fill_matrix(m, data, seed, i);
            matrices[t.name] = m;
        } else {
            // Norm weights 1 (what HF initializes them to); biases small and random.
            auto* v = reinterpret_cast<float*>(data);
            const int64_t n = t.shape[0];
            if (t.name.ends_with("layernorm.weight") || t.name == "model.norm.weight") {
                std::fill_n(v, n, 1.0f);
            } else {
                RowRng rng(seed, i, 0);
                fill_row_f32(v, n, rng, kUniformHalfWidth);
            }
            vectors[t.name] = v;
        }
    }

    model->weights_ = bind_weights(
        c, [&](const std::string& name) { return matrices.at(name); },
        [&](const std::string& name) { return vectors.at(name); });
    model->tokenizer_info_.bos_token_id = c.bos_token_id;
    model->tokenizer_info_.eos_token_ids = c.eos_token_ids;
    repack_weights_in_place(model->weights_, kernels());
    fuse_projections(model->weights_);
    return model;
}

}  // namespace ember
