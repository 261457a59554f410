// HF config.json -> ModelConfig. Absent fields take the defaults of transformers'
// LlamaConfig / Qwen2Config, so a config that loads in HF means the same thing here.
#include "runtime/convert/hf_config.h"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>

namespace ember {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& what) { throw std::runtime_error(what); }

// HF defaults that differ between the architectures (LlamaConfig / Qwen2Config __init__).
struct HfDefaults {
    int64_t max_position_embeddings;
};
HfDefaults hf_defaults(const std::string& arch) {
    return arch == "qwen2" ? HfDefaults{32768} : HfDefaults{2048};
}

bool present(const json& j, const char* key) { return j.contains(key) && !j[key].is_null(); }

int64_t get_int(const json& j, const char* key, std::optional<int64_t> fallback = std::nullopt) {
    if (!present(j, key)) {
        if (fallback) return *fallback;
        bad(std::string("missing field '") + key + "'");
    }
    if (!j[key].is_number_integer()) bad(std::string("field '") + key + "' must be an integer, got " + j[key].dump());
    return j[key].get<int64_t>();
}

double get_number(const json& j, const char* key, std::optional<double> fallback = std::nullopt) {
    if (!present(j, key)) {
        if (fallback) return *fallback;
        bad(std::string("missing field '") + key + "'");
    }
    if (!j[key].is_number()) bad(std::string("field '") + key + "' must be a number, got " + j[key].dump());
    return j[key].get<double>();
}

bool get_bool(const json& j, const char* key, bool fallback) {
    if (!present(j, key)) return fallback;
    if (!j[key].is_boolean()) bad(std::string("field '") + key + "' must be true or false, got " + j[key].dump());
    return j[key].get<bool>();
}

// eos_token_id is an int, a list of ints, or null.
void append_token_ids(const json& j, const char* key, std::vector<int64_t>& out) {
    if (!present(j, key)) return;
    const json& v = j[key];
    auto add = [&](const json& id) {
        if (!id.is_number_integer()) bad(std::string("field '") + key + "' must hold integers, got " + v.dump());
        int64_t x = id.get<int64_t>();
        if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
    };
    if (v.is_array())
        for (const auto& id : v) add(id);
    else
        add(v);
}

const ArchitectureInfo& find_architecture(const json& config) {
    if (!config.contains("architectures") || !config["architectures"].is_array() ||
        config["architectures"].empty() || !config["architectures"][0].is_string())
        bad("missing field 'architectures' (expected e.g. [\"LlamaForCausalLM\"]); supported: " +
            supported_architecture_list());
    const std::string hf_name = config["architectures"][0].get<std::string>();
    for (const auto& a : supported_architectures())
        if (hf_name == a.hf_name) return a;
    bad("unsupported architecture " + hf_name + "; supported: " + supported_architecture_list());
}

RopeScaling parse_rope_scaling(const json& config, int64_t max_position) {
    RopeScaling rs;
    if (!present(config, "rope_scaling")) return rs;
    const json& r = config["rope_scaling"];
    if (!r.is_object()) bad("field 'rope_scaling' must be an object or null");
    // transformers renamed "type" to "rope_type"; configs in the wild use both.
    const char* type_key = r.contains("rope_type") ? "rope_type" : "type";
    if (!r.contains(type_key) || !r[type_key].is_string()) bad("rope_scaling has no \"rope_type\"");
    const std::string type = r[type_key].get<std::string>();

    auto field = [&](const char* key, std::optional<double> fallback = std::nullopt) {
        try {
            return get_number(r, key, fallback);
        } catch (const std::runtime_error& e) {
            bad("rope_scaling (" + type + "): " + e.what());
        }
    };
    if (type == "default") return rs;
    if (type == "dynamic")
        bad("rope_scaling type 'dynamic' (dynamic NTK) is not supported: its frequencies change with the "
            "sequence length; supported: linear, llama3, yarn");
    if (type == "linear") {
        rs.type = type;
        rs.factor = field("factor");
    } else if (type == "llama3") {
        rs.type = type;
        rs.factor = field("factor");
        rs.low_freq_factor = field("low_freq_factor");
        rs.high_freq_factor = field("high_freq_factor");
        rs.original_max_position = int64_t(field("original_max_position_embeddings"));
    } else if (type == "yarn") {
        // DeepSeek-style mscale terms change the attention factor in ways the runtime does not model.
        if (present(r, "mscale") || present(r, "mscale_all_dim"))
            bad("rope_scaling (yarn) with mscale / mscale_all_dim is not supported");
        rs.type = type;
        rs.factor = field("factor");
        rs.original_max_position = int64_t(field("original_max_position_embeddings", double(max_position)));
        rs.beta_fast = field("beta_fast", 32.0);
        rs.beta_slow = field("beta_slow", 1.0);
        rs.attention_factor = field("attention_factor", 0.0);
    } else {
        bad("unsupported rope_scaling type '" + type + "' (supported: linear, llama3, yarn)");
    }
    return rs;
}

// Settings that would change the computation in ways the graph does not implement.
void reject_unsupported_features(const json& config, const std::string& arch) {
    if (present(config, "hidden_act")) {
        const json& act = config["hidden_act"];
        if (!act.is_string() || (act.get<std::string>() != "silu" && act.get<std::string>() != "swish"))
            bad("hidden_act " + act.dump() + " is not supported (only silu)");
    }
    if (get_bool(config, "mlp_bias", false)) bad("mlp_bias = true is not supported");
    if (arch == "qwen2" && get_bool(config, "use_sliding_window", false))
        bad("use_sliding_window = true is not supported (sliding-window attention)");
}

}  // namespace

ModelConfig model_config_from_hf(const json& config, const json& generation) {
    if (!config.is_object()) bad("config.json must hold a JSON object");
    const ArchitectureInfo& info = find_architecture(config);
    ModelConfig c;
    c.arch = info.name;
    reject_unsupported_features(config, c.arch);

    c.vocab_size = get_int(config, "vocab_size");
    c.hidden_size = get_int(config, "hidden_size");
    c.intermediate_size = get_int(config, "intermediate_size");
    c.n_layers = get_int(config, "num_hidden_layers");
    c.n_heads = get_int(config, "num_attention_heads");
    c.n_kv_heads = get_int(config, "num_key_value_heads", c.n_heads);
    if (present(config, "head_dim")) {
        c.head_dim = get_int(config, "head_dim");
    } else {
        if (c.n_heads <= 0 || c.hidden_size % c.n_heads != 0)
            bad("hidden_size (" + std::to_string(c.hidden_size) + ") is not a multiple of num_attention_heads (" +
                std::to_string(c.n_heads) + ") and there is no head_dim");
        c.head_dim = c.hidden_size / c.n_heads;
    }
    c.max_position = get_int(config, "max_position_embeddings", hf_defaults(c.arch).max_position_embeddings);
    c.rms_eps = get_number(config, "rms_norm_eps", 1e-6);
    c.rope_theta = get_number(config, "rope_theta", 10000.0);
    c.rope_scaling = parse_rope_scaling(config, c.max_position);
    // Qwen2 always has q/k/v biases; Llama only with attention_bias.
    c.qkv_bias = info.default_qkv_bias || get_bool(config, "attention_bias", false);
    c.tie_embeddings = get_bool(config, "tie_word_embeddings", false);

    const json none = json::object();
    const json& gen = generation.is_object() ? generation : none;
    c.bos_token_id = get_int(config, "bos_token_id", get_int(gen, "bos_token_id", -1));
    append_token_ids(config, "eos_token_id", c.eos_token_ids);
    append_token_ids(gen, "eos_token_id", c.eos_token_ids);

    c.validate();
    return c;
}

}  // namespace ember
