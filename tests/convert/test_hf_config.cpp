// HF config.json -> ModelConfig: HF defaults, rope scaling, token ids, refusals.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include "fake_hf.h"
#include "runtime/convert/hf_config.h"

using namespace ember;
using nlohmann::json;

namespace {

std::string error_of(const json& config, const json& generation = nullptr) {
    try {
        model_config_from_hf(config, generation);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

json minimal_llama() {
    return {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 100},        {"hidden_size", 64},
            {"intermediate_size", 128},            {"num_hidden_layers", 2},    {"num_attention_heads", 4}};
}

}  // namespace

TEST_CASE("hf config: HF defaults fill absent fields") {
    const ModelConfig c = model_config_from_hf(minimal_llama());
    CHECK(c.arch == "llama");
    CHECK(c.n_kv_heads == 4);        // = num_attention_heads
    CHECK(c.head_dim == 16);         // hidden_size / num_attention_heads
    CHECK(c.max_position == 2048);   // LlamaConfig default
    CHECK(c.rms_eps == doctest::Approx(1e-6));
    CHECK(c.rope_theta == 10000.0);
    CHECK(c.rope_scaling.type == "none");
    CHECK_FALSE(c.qkv_bias);
    CHECK_FALSE(c.tie_embeddings);   // LlamaConfig default False
    CHECK(c.bos_token_id == -1);
    CHECK(c.eos_token_ids.empty());

    json q = minimal_llama();
    q["architectures"] = {"Qwen2ForCausalLM"};
    const ModelConfig qc = model_config_from_hf(q);
    CHECK(qc.arch == "qwen2");
    CHECK(qc.qkv_bias);               // Qwen2 always has q/k/v biases
    CHECK(qc.max_position == 32768);  // Qwen2Config default
    CHECK_FALSE(qc.tie_embeddings);
}

TEST_CASE("hf config: explicit fields win") {
    json j = minimal_llama();
    j["num_key_value_heads"] = 2;
    j["head_dim"] = 8;  // decoupled from hidden_size / heads, as in stories260K
    j["attention_bias"] = true;
    j["tie_word_embeddings"] = true;
    j["max_position_embeddings"] = 512;
    j["rms_norm_eps"] = 1e-5;
    j["rope_theta"] = 500000.0;
    const ModelConfig c = model_config_from_hf(j);
    CHECK(c.n_kv_heads == 2);
    CHECK(c.head_dim == 8);
    CHECK(c.qkv_bias);
    CHECK(c.tie_embeddings);
    CHECK(c.max_position == 512);
    CHECK(c.rms_eps == doctest::Approx(1e-5));
    CHECK(c.rope_theta == 500000.0);
}

TEST_CASE("hf config: bos / eos from config, eos merged with generation_config") {
    json j = minimal_llama();
    j["bos_token_id"] = 1;
    j["eos_token_id"] = json::array({2, 3});
    const json gen = {{"eos_token_id", json::array({3, 4})}, {"bos_token_id", 9}};
    const ModelConfig c = model_config_from_hf(j, gen);
    CHECK(c.bos_token_id == 1);
    CHECK(c.eos_token_ids == std::vector<int64_t>{2, 3, 4});

    j.erase("bos_token_id");
    j["eos_token_id"] = 7;
    const ModelConfig c2 = model_config_from_hf(j, gen);
    CHECK(c2.bos_token_id == 9);  // only generation_config names it
    CHECK(c2.eos_token_ids == std::vector<int64_t>{7, 3, 4});

    j["eos_token_id"] = 100;  // outside vocab_size
    CHECK(contains(error_of(j), "eos_token_id 100"));
}

TEST_CASE("hf config: rope_scaling variants") {
    json j = minimal_llama();
    j["max_position_embeddings"] = 131072;

    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", 32.0},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 8192}};
    RopeScaling rs = model_config_from_hf(j).rope_scaling;
    CHECK(rs.type == "llama3");
    CHECK(rs.factor == 32.0);
    CHECK(rs.high_freq_factor == 4.0);
    CHECK(rs.original_max_position == 8192);

    j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};  // the older key name
    rs = model_config_from_hf(j).rope_scaling;
    CHECK(rs.type == "linear");
    CHECK(rs.factor == 2.0);

    j["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
    rs = model_config_from_hf(j).rope_scaling;
    CHECK(rs.type == "yarn");
    CHECK(rs.original_max_position == 32768);
    CHECK(rs.beta_fast == 32.0);
    CHECK(rs.beta_slow == 1.0);
    CHECK(rs.attention_factor == 0.0);

    j["rope_scaling"] = {{"rope_type", "default"}};
    CHECK(model_config_from_hf(j).rope_scaling.type == "none");
    j["rope_scaling"] = nullptr;
    CHECK(model_config_from_hf(j).rope_scaling.type == "none");

    j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
    CHECK(contains(error_of(j), "dynamic"));
    j["rope_scaling"] = {{"rope_type", "longrope"}};
    CHECK(contains(error_of(j), "unsupported rope_scaling type 'longrope'"));
    j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
    CHECK(contains(error_of(j), "low_freq_factor"));
}

TEST_CASE("hf config: refusals name the problem") {
    json j = minimal_llama();
    j["architectures"] = {"MistralForCausalLM"};
    std::string msg = error_of(j);
    CHECK(contains(msg, "unsupported architecture MistralForCausalLM"));
    CHECK(contains(msg, "supported: LlamaForCausalLM, Qwen2ForCausalLM"));

    j = minimal_llama();
    j.erase("architectures");
    CHECK(contains(error_of(j), "architectures"));

    j = minimal_llama();
    j.erase("vocab_size");
    CHECK(contains(error_of(j), "missing field 'vocab_size'"));

    j = minimal_llama();
    j["hidden_size"] = "64";
    CHECK(contains(error_of(j), "'hidden_size' must be an integer"));

    j = minimal_llama();
    j["hidden_size"] = 66;  // not a multiple of 4 heads, no head_dim
    CHECK(contains(error_of(j), "num_attention_heads"));

    j = minimal_llama();
    j["num_key_value_heads"] = 3;
    CHECK(contains(error_of(j), "num_key_value_heads"));

    j = minimal_llama();
    j["hidden_act"] = "gelu";
    CHECK(contains(error_of(j), "hidden_act"));

    j = minimal_llama();
    j["mlp_bias"] = true;
    CHECK(contains(error_of(j), "mlp_bias"));

    j = minimal_llama();
    j["architectures"] = {"Qwen2ForCausalLM"};
    j["use_sliding_window"] = true;
    CHECK(contains(error_of(j), "sliding"));
}

TEST_CASE("hf config: every real model config in ../shared/configs converts") {
    const char* shared = std::getenv("EMBER_SHARED");
    const std::filesystem::path configs = std::filesystem::path(shared ? shared : "../shared") / "configs";
    if (!std::filesystem::is_directory(configs)) {
        MESSAGE("skipped: no " << configs.string() << " (shared data is optional)");
        return;
    }
    int seen = 0;
    for (const auto& entry : std::filesystem::directory_iterator(configs)) {
        const auto path = entry.path() / "config.json";
        if (!std::filesystem::exists(path)) continue;
        CAPTURE(path.string());
        const json config = json::parse(std::ifstream(path));
        json generation = nullptr;
        if (std::filesystem::exists(entry.path() / "generation_config.json"))
            generation = json::parse(std::ifstream(entry.path() / "generation_config.json"));
        ModelConfig c;
        CHECK_NOTHROW(c = model_config_from_hf(config, generation));
        CHECK(c.n_heads * c.head_dim > 0);
        ++seen;
    }
    CHECK(seen > 0);
}
