// ModelConfig <-> JSON, validation, and the list of tensors a config implies.
#include "runtime/model_config.h"

#include <stdexcept>

namespace ember {

const std::vector<ArchitectureInfo>& supported_architectures() {
    // The one table of supported architectures. The graph (runtime/llama_graph.cpp) serves
    // all of them; their differences are the flags here and in ModelConfig.
    static const std::vector<ArchitectureInfo> table = {
        {"LlamaForCausalLM", "llama", false},
        {"Qwen2ForCausalLM", "qwen2", true},
    };
    return table;
}

std::string supported_architecture_list() {
    std::string s;
    for (const auto& a : supported_architectures()) {
        if (!s.empty()) s += ", ";
        s += a.hf_name;
    }
    return s;
}

void ModelConfig::validate() const {
    auto bad = [](const std::string& what) { throw std::runtime_error("invalid model config: " + what); };
    bool known = false;
    for (const auto& a : supported_architectures()) known |= arch == a.name;
    if (!known) bad("unknown architecture '" + arch + "'");
    if (vocab_size <= 0) bad("vocab_size must be positive");
    if (hidden_size <= 0) bad("hidden_size must be positive");
    if (intermediate_size <= 0) bad("intermediate_size must be positive");
    if (n_layers <= 0) bad("num_hidden_layers must be positive");
    if (n_heads <= 0) bad("num_attention_heads must be positive");
    if (n_kv_heads <= 0 || n_heads % n_kv_heads != 0)
        bad("num_key_value_heads (" + std::to_string(n_kv_heads) + ") must divide num_attention_heads (" +
            std::to_string(n_heads) + ")");
    if (head_dim <= 0 || head_dim % 2 != 0) bad("head_dim (" + std::to_string(head_dim) + ") must be positive and even");
    if (max_position <= 0) bad("max_position_embeddings must be positive");
    if (!(rms_eps > 0)) bad("rms_norm_eps must be positive");
    if (!(rope_theta > 0)) bad("rope_theta must be positive");
    const auto& rs = rope_scaling;
    if (rs.type != "none" && rs.type != "linear" && rs.type != "llama3" && rs.type != "yarn")
        bad("unsupported rope_scaling type '" + rs.type + "' (supported: linear, llama3, yarn)");
    if (rs.type != "none" && !(rs.factor > 0)) bad("rope_scaling.factor must be positive");
    if ((rs.type == "llama3" || rs.type == "yarn") && rs.original_max_position <= 0)
        bad("rope_scaling.original_max_position_embeddings must be positive for " + rs.type);
    if (rs.type == "llama3" && !(rs.high_freq_factor > rs.low_freq_factor))
        bad("rope_scaling.high_freq_factor must exceed low_freq_factor");
    if (bos_token_id >= vocab_size) bad("bos_token_id outside the vocabulary");
    for (auto e : eos_token_ids)
        if (e < 0 || e >= vocab_size) bad("eos_token_id " + std::to_string(e) + " outside the vocabulary");
}

nlohmann::json config_to_json(const ModelConfig& c) {
    nlohmann::json rs = {{"type", c.rope_scaling.type},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position", c.rope_scaling.original_max_position},
                         {"beta_fast", c.rope_scaling.beta_fast},
                         {"beta_slow", c.rope_scaling.beta_slow},
                         {"attention_factor", c.rope_scaling.attention_factor}};
    return {{"arch", c.arch},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"n_layers", c.n_layers},
            {"n_heads", c.n_heads},
            {"n_kv_heads", c.n_kv_heads},
            {"head_dim", c.head_dim},
            {"max_position", c.max_position},
            {"rms_eps", c.rms_eps},
            {"rope_theta", c.rope_theta},
            {"rope_scaling", rs},
            {"qkv_bias", c.qkv_bias},
            {"tie_embeddings", c.tie_embeddings},
            {"bos_token_id", c.bos_token_id},
            {"eos_token_ids", c.eos_token_ids}};
}

ModelConfig config_from_json(const nlohmann::json& j) {
    ModelConfig c;
    auto get = [&](const char* key, auto& out) {
        if (!j.contains(key)) throw std::runtime_error(std::string("model config: missing field '") + key + "'");
        try {
            j.at(key).get_to(out);
        } catch (const nlohmann::json::exception&) {
            throw std::runtime_error(std::string("model config: field '") + key + "' has the wrong type");
        }
    };
    get("arch", c.arch);
    get("vocab_size", c.vocab_size);
    get("hidden_size", c.hidden_size);
    get("intermediate_size", c.intermediate_size);
    get("n_layers", c.n_layers);
    get("n_heads", c.n_heads);
    get("n_kv_heads", c.n_kv_heads);
    get("head_dim", c.head_dim);
    get("max_position", c.max_position);
    get("rms_eps", c.rms_eps);
    get("rope_theta", c.rope_theta);
    get("qkv_bias", c.qkv_bias);
    get("tie_embeddings", c.tie_embeddings);
    get("bos_token_id", c.bos_token_id);
    get("eos_token_ids", c.eos_token_ids);
    if (j.contains("rope_scaling")) {
        const auto& r = j["rope_scaling"];
        try {
            c.rope_scaling.type = r.value("type", "none");
            c.rope_scaling.factor = r.value("factor", 1.0);
            c.rope_scaling.low_freq_factor = r.value("low_freq_factor", 1.0);
            c.rope_scaling.high_freq_factor = r.value("high_freq_factor", 4.0);
            c.rope_scaling.original_max_position = r.value("original_max_position", int64_t(0));
            c.rope_scaling.beta_fast = r.value("beta_fast", 32.0);
            c.rope_scaling.beta_slow = r.value("beta_slow", 1.0);
            c.rope_scaling.attention_factor = r.value("attention_factor", 0.0);
        } catch (const nlohmann::json::exception&) {
            throw std::runtime_error("model config: field 'rope_scaling' is malformed");
        }
    }
    return c;
}

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
    const int64_t h = c.hidden_size, q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim,
                  f = c.intermediate_size;
    std::vector<ExpectedTensor> out;
    out.push_back({"model.embed_tokens.weight", {c.vocab_size, h}, true});
    for (int64_t l = 0; l < c.n_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        out.push_back({p + "input_layernorm.weight", {h}, false});
        out.push_back({p + "self_attn.q_proj.weight", {q, h}, true});
        out.push_back({p + "self_attn.k_proj.weight", {kv, h}, true});
        out.push_back({p + "self_attn.v_proj.weight", {kv, h}, true});
        if (c.qkv_bias) {
            out.push_back({p + "self_attn.q_proj.bias", {q}, false});
            out.push_back({p + "self_attn.k_proj.bias", {kv}, false});
            out.push_back({p + "self_attn.v_proj.bias", {kv}, false});
        }
        out.push_back({p + "self_attn.o_proj.weight", {h, q}, true});
        out.push_back({p + "post_attention_layernorm.weight", {h}, false});
        out.push_back({p + "mlp.gate_proj.weight", {f, h}, true});
        out.push_back({p + "mlp.up_proj.weight", {f, h}, true});
        out.push_back({p + "mlp.down_proj.weight", {h, f}, true});
    }
    out.push_back({"model.norm.weight", {h}, false});
    if (!c.tie_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, h}, true});
    return out;
}

}  // namespace ember
