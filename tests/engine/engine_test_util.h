// Shared by the engine tests: a tiny random model and the "run alone" references.
#pragma once
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/model.h"
#include "runtime/model_config.h"

namespace ember::test {

// Odd sizes (padded quant blocks), GQA 4/2, q/k/v biases, tied embeddings: the Qwen2 path.
inline ModelConfig tiny_engine_config() {
    ModelConfig c;
    c.arch = "qwen2";
    c.vocab_size = 300;
    c.hidden_size = 80;
    c.intermediate_size = 200;
    c.n_layers = 3;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 20;
    c.max_position = 512;
    c.rms_eps = 1e-6;
    c.rope_theta = 10000.0;
    c.qkv_bias = true;
    c.tie_embeddings = true;
    c.bos_token_id = 1;
    c.eos_token_ids = {2};
    return c;
}

// q4 matrices with a q8 embedding: the int8 kernels of the default quantization.
inline std::unique_ptr<Model> tiny_engine_model(uint64_t seed = 7) {
    return Model::synthetic(tiny_engine_config(), DType::Q4, DType::Q8, seed);
}

inline std::vector<int32_t> random_tokens(size_t n, uint64_t seed, int32_t vocab = 300) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int32_t> tok(3, vocab - 1);  // no BOS/EOS in prompts
    std::vector<int32_t> v(n);
    for (auto& t : v) t = tok(rng);
    return v;
}

// The scalar table's matmul rows do not depend on the batch size, so there batched and
// single-sequence runs must agree bit for bit.
inline bool exact_kernels() {
    return std::string_view(kernels().isa_name) == "generic";
}

}  // namespace ember::test
