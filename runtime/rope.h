// RoPE frequencies as HF computes them (modeling_rope_utils.py), including scaling.
#pragma once
#include <vector>

#include "runtime/model_config.h"

namespace ember {

struct RopeTable {
    std::vector<double> inv_freq;   // [head_dim / 2]
    double attention_factor = 1.0;  // multiplies cos and sin (YaRN's mscale; 1 otherwise)

    // cos/sin of position `pos`: out_cos, out_sin [head_dim / 2].
    void at(int64_t pos, float* out_cos, float* out_sin) const;
};

// Frequencies for a config: default, linear, llama3 (Llama 3.1/3.2) or yarn (Qwen2.5).
RopeTable make_rope_table(const ModelConfig& c);

}  // namespace ember
