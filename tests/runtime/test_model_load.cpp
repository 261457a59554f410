// Model::load: the file is valid as a container, but does it hold the model its config
// describes? Each mismatch must be named (file, tensor, offset, expected vs actual).
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "runtime/model.h"

using namespace ember;
namespace fs = std::filesystem;

namespace {

ModelConfig tiny_llama() {
    ModelConfig c;
    c.arch = "llama";
    c.vocab_size = 16;
    c.hidden_size = 8;
    c.intermediate_size = 12;
    c.n_layers = 1;
    c.n_heads = 2;
    c.n_kv_heads = 1;
    c.head_dim = 4;
    c.max_position = 32;
    c.tie_embeddings = true;
    c.bos_token_id = 1;
    c.eos_token_ids = {2};
    return c;
}

// Writes a model file for `cfg`; `edit` may change the plan (names, shapes, dtypes) and
// the header before writing. Returns the path.
fs::path write_model(const std::string& name, const ModelConfig& cfg,
                     const std::function<void(std::vector<TensorInfo>&, nlohmann::json&)>& edit = {}) {
    std::vector<TensorInfo> plan;
    for (const auto& e : expected_tensors(cfg)) {
        TensorInfo t;
        t.name = e.name;
        t.shape = e.shape;
        t.dtype = DType::F32;
        plan.push_back(t);
    }
    nlohmann::json header = {{"format", "ember"}, {"config", config_to_json(cfg)}};
    if (edit) edit(plan, header);
    const fs::path path = fs::temp_directory_path() / ("ember-test-load-" + std::to_string(::getpid()) + "-" + name + ".ember");
    ModelFileWriter w(path, header, plan);
    for (const auto& t : plan) {
        std::vector<uint8_t> zeros(tensor_bytes(t.dtype, t.shape), 0);
        w.write_next(t.name, zeros.data(), zeros.size());
    }
    w.finish();
    return path;
}

std::string load_error(const fs::path& p) {
    std::string msg;
    try {
        Model::load(p);
    } catch (const ModelFileError& e) {
        msg = e.what();
    }
    fs::remove(p);
    return msg;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a complete model loads and binds every weight") {
    auto p = write_model("ok", tiny_llama());
    auto m = Model::load(p);
    CHECK(m->weights().layers.size() == 1);
    CHECK(m->weights().lm_head.data == m->weights().embed.data);  // tied
    CHECK(m->weights().layers[0].q_bias == nullptr);
    CHECK(m->tokenizer() == nullptr);  // no tokenizer in the header: --tokens only
    fs::remove(p);
}

TEST_CASE("a tensor whose shape disagrees with the config is named with both shapes and its offset") {
    auto p = write_model("shape", tiny_llama(), [](auto& plan, auto&) {
        for (auto& t : plan)
            if (t.name == "model.layers.0.mlp.up_proj.weight") t.shape = {13, 8};
    });
    std::string e = load_error(p);
    CHECK(has(e, "model.layers.0.mlp.up_proj.weight"));
    CHECK(has(e, "[13, 8]"));
    CHECK(has(e, "[12, 8]"));
    CHECK(has(e, "offset"));
    CHECK(has(e, p.filename().string()));
}

TEST_CASE("a missing tensor is named") {
    auto p = write_model("missing", tiny_llama(), [](auto& plan, auto&) {
        std::erase_if(plan, [](const TensorInfo& t) { return t.name == "model.norm.weight"; });
    });
    std::string e = load_error(p);
    CHECK(has(e, "model.norm.weight"));
    CHECK(has(e, "missing"));
}

TEST_CASE("a norm stored quantized is refused (vectors must be f32)") {
    auto p = write_model("dtype", tiny_llama(), [](auto& plan, auto&) {
        for (auto& t : plan)
            if (t.name == "model.layers.0.input_layernorm.weight") t.dtype = DType::Q8;
    });
    std::string e = load_error(p);
    CHECK(has(e, "input_layernorm"));
    CHECK(has(e, "q8"));
}

TEST_CASE("an untied config needs lm_head; a qwen2 config needs its biases") {
    ModelConfig untied = tiny_llama();
    untied.tie_embeddings = false;
    auto p = write_model("untied", tiny_llama(), [&](auto&, auto& header) { header["config"] = config_to_json(untied); });
    CHECK(has(load_error(p), "lm_head.weight"));

    ModelConfig qwen = tiny_llama();
    qwen.arch = "qwen2";
    qwen.qkv_bias = true;
    p = write_model("bias", tiny_llama(), [&](auto&, auto& header) { header["config"] = config_to_json(qwen); });
    CHECK(has(load_error(p), "q_proj.bias"));
}

TEST_CASE("a header without config, or with an inconsistent one, is refused with the field named") {
    auto p = write_model("noconfig", tiny_llama(), [](auto&, auto& header) { header.erase("config"); });
    CHECK(has(load_error(p), "config"));

    p = write_model("badconfig", tiny_llama(), [](auto&, auto& header) { header["config"]["n_kv_heads"] = 3; });
    CHECK(has(load_error(p), "num_key_value_heads"));

    p = write_model("unknownarch", tiny_llama(), [](auto&, auto& header) { header["config"]["arch"] = "mamba"; });
    CHECK(has(load_error(p), "mamba"));
}

TEST_CASE("a corrupt embedded SentencePiece model is reported against its tensor") {
    auto p = write_model("spm", tiny_llama(), [](auto& plan, auto& header) {
        TensorInfo blob;
        blob.name = "tokenizer.model";
        blob.dtype = DType::U8;
        blob.shape = {40};  // 40 zero bytes: not a SentencePiece proto
        plan.insert(plan.begin(), blob);
        header["tokenizer"] = {{"kind", "sentencepiece"}, {"blob", "tokenizer.model"}, {"add_bos", true}};
    });
    std::string e = load_error(p);
    CHECK(has(e, "tokenizer.model"));
}
