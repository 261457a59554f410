// The architecture config of a decoder-only model, as stored in the .ember header
// ("config" object) and as read from a Hugging Face config.json by the converter.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ember {

// RoPE frequency scaling. "none", "linear", "llama3" (Llama 3.1/3.2) and "yarn" (Qwen2.5
// long-context configs) follow HF's _compute_*_parameters exactly.
struct RopeScaling {
    std::string type = "none";
    double factor = 1.0;
    double low_freq_factor = 1.0;           // llama3
    double high_freq_factor = 4.0;          // llama3
    int64_t original_max_position = 0;      // llama3, yarn
    double beta_fast = 32.0, beta_slow = 1.0;  // yarn
    double attention_factor = 0.0;          // yarn; 0 = derive from factor as HF does
};

// One supported architecture: the HF class name and what distinguishes it. Differences
// are flags, not forked graph code (docs/architecture.md).
struct ArchitectureInfo {
    const char* hf_name;      // "LlamaForCausalLM"
    const char* name;         // "llama"
    bool default_qkv_bias;    // Qwen2 has q/k/v biases; Llama has them only if attention_bias
};
const std::vector<ArchitectureInfo>& supported_architectures();
// "LlamaForCausalLM, Qwen2ForCausalLM": for error messages.
std::string supported_architecture_list();

struct ModelConfig {
    std::string arch;  // ArchitectureInfo::name ("llama", "qwen2")
    int64_t vocab_size = 0;
    int64_t hidden_size = 0;
    int64_t intermediate_size = 0;
    int64_t n_layers = 0;
    int64_t n_heads = 0;
    int64_t n_kv_heads = 0;
    int64_t head_dim = 0;
    int64_t max_position = 0;
    double rms_eps = 1e-6;
    double rope_theta = 10000.0;
    RopeScaling rope_scaling;
    bool qkv_bias = false;
    bool tie_embeddings = false;
    int64_t bos_token_id = -1;  // -1: none
    std::vector<int64_t> eos_token_ids;

    // Throws std::runtime_error naming the offending field when the numbers are
    // inconsistent (heads not dividing, head_dim odd, zero sizes, ...).
    void validate() const;
};

nlohmann::json config_to_json(const ModelConfig& c);
// Throws std::runtime_error naming a missing / mistyped field.
ModelConfig config_from_json(const nlohmann::json& j);

// The tensors a model of this config must contain, with their shapes; names follow HF
// ("model.layers.0.self_attn.q_proj.weight"), so the converter copies names verbatim.
struct ExpectedTensor {
    std::string name;
    std::vector<int64_t> shape;
    bool is_matrix;  // weight matrix (may be quantized) vs vector (norms, biases: kept f32)
};
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c);

}  // namespace ember
