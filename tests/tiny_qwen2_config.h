// The small Qwen2-shaped config several test suites build models from: sizes that are not
// a multiple of 32 anywhere (padded quant blocks), GQA 4/2, q/k/v biases, tied embeddings.
// Suites that need other sizes start from it and change those fields.
#pragma once
#include <cstdint>

#include "runtime/model_config.h"

namespace ember::test {

inline ModelConfig tiny_qwen2_config(int64_t max_position = 256) {
    ModelConfig c;
    c.arch = "qwen2";
    c.vocab_size = 300;
    c.hidden_size = 80;
    c.intermediate_size = 200;
    c.n_layers = 3;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 20;
    c.max_position = max_position;
    c.rms_eps = 1e-6;
    c.rope_theta = 10000.0;
    c.qkv_bias = true;
    c.tie_embeddings = true;
    c.bos_token_id = 1;
    c.eos_token_ids = {2};
    return c;
}

}  // namespace ember::test
