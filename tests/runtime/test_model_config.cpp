// ModelConfig: JSON round trip, validation messages, the architecture table.
#include <doctest/doctest.h>

#include <string>

#include "runtime/model_config.h"

using namespace ember;

namespace {
ModelConfig small_qwen2() {
    ModelConfig c;
    c.arch = "qwen2";
    c.vocab_size = 100;
    c.hidden_size = 32;
    c.intermediate_size = 40;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    c.max_position = 128;
    c.qkv_bias = true;
    c.tie_embeddings = true;
    c.bos_token_id = 1;
    c.eos_token_ids = {2, 3};
    c.rope_scaling.type = "yarn";
    c.rope_scaling.factor = 4;
    c.rope_scaling.original_max_position = 64;
    return c;
}
std::string error_of(const ModelConfig& c) {
    try {
        c.validate();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("config survives a JSON round trip") {
    ModelConfig c = small_qwen2();
    ModelConfig d = config_from_json(config_to_json(c));
    CHECK(config_to_json(d) == config_to_json(c));
    CHECK_NOTHROW(d.validate());
}

TEST_CASE("validation names the bad field") {
    ModelConfig c = small_qwen2();
    c.n_kv_heads = 3;
    CHECK(error_of(c).find("num_key_value_heads") != std::string::npos);
    c = small_qwen2();
    c.head_dim = 7;
    CHECK(error_of(c).find("head_dim") != std::string::npos);
    c = small_qwen2();
    c.rope_scaling.type = "dynamic";
    CHECK(error_of(c).find("dynamic") != std::string::npos);
    c = small_qwen2();
    c.arch = "mamba";
    CHECK(error_of(c).find("mamba") != std::string::npos);
}

TEST_CASE("a missing field in the header config is named") {
    auto j = config_to_json(small_qwen2());
    j.erase("n_heads");
    try {
        config_from_json(j);
        FAIL("expected an error");
    } catch (const std::exception& e) {
        CHECK(std::string(e.what()).find("n_heads") != std::string::npos);
    }
}

TEST_CASE("every supported architecture yields a consistent tensor list") {
    for (const auto& a : supported_architectures()) {
        ModelConfig c = small_qwen2();
        c.arch = a.name;
        c.qkv_bias = a.default_qkv_bias;
        for (bool tied : {true, false}) {
            c.tie_embeddings = tied;
            CHECK_NOTHROW(c.validate());
            auto t = expected_tensors(c);
            size_t per_layer = 9 + (c.qkv_bias ? 3 : 0);
            CHECK(t.size() == 1 + size_t(c.n_layers) * per_layer + 1 + (tied ? 0 : 1));
            CHECK(t.front().name == "model.embed_tokens.weight");
        }
    }
    CHECK(supported_architecture_list().find("Qwen2ForCausalLM") != std::string::npos);
}
