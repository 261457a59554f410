// Shared by the engine tests: a tiny random model and the "run alone" references.
#pragma once
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/model.h"
#include "runtime/model_config.h"
#include "tests/tiny_qwen2_config.h"

namespace ember::test {

// The shared tiny Qwen2 config (tests/tiny_qwen2_config.h) with room for longer runs.
inline ModelConfig tiny_engine_config() { return tiny_qwen2_config(512); }

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
