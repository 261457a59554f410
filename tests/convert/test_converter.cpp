// End-to-end conversion of tiny fake HF checkpoints, reopened with ModelFile.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "fake_hf.h"
#include "kernels/half.h"
#include "kernels/quant.h"
#include "runtime/convert/converter.h"
#include "runtime/convert/hf_config.h"
#include "runtime/model_file.h"

using namespace ember;
using namespace ember::test;
using nlohmann::json;

namespace {

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

ConvertSummary convert(const std::filesystem::path& hf_dir, const std::filesystem::path& out, DType type,
                       std::optional<DType> embed_type = std::nullopt) {
    ConvertOptions opts;
    opts.hf_dir = hf_dir;
    opts.output = out;
    opts.type = type;
    opts.embed_type = embed_type;
    opts.quiet = true;
    return convert_hf_checkpoint(opts);
}

// Converts and expects a ModelFileError; returns its message and checks that the output
// directory is still empty (no output, no temp file).
std::string failed_conversion(const std::filesystem::path& hf_dir, DType type = DType::Q4) {
    TempDir out;
    std::string msg;
    try {
        convert(hf_dir, out / "model.ember", type);
    } catch (const ModelFileError& e) {
        msg = e.what();
    }
    CHECK_MESSAGE(!msg.empty(), "conversion was expected to fail");
    CHECK(dir_entries(out.path()).empty());
    return msg;
}

std::vector<uint8_t> stored_bytes(const TensorInfo& t) { return std::vector<uint8_t>(t.data, t.data + t.size); }

// What the converter must have written for `src` as q4 / q8: the reference quantizer's blocks.
std::vector<uint8_t> reference_quantized(const StTensor& src, DType type) {
    const int64_t cols = src.shape.back(), rows = int64_t(src.values().size()) / cols;
    const std::vector<float> x = src.values();
    std::vector<uint8_t> out(size_t(rows * dtype_row_bytes(type, cols)));
    for (int64_t r = 0; r < rows; ++r) {
        uint8_t* dst = out.data() + r * dtype_row_bytes(type, cols);
        if (type == DType::Q4)
            quantize_row_q4_ref(x.data() + r * cols, reinterpret_cast<BlockQ4*>(dst), cols);
        else
            quantize_row_q8_ref(x.data() + r * cols, reinterpret_cast<BlockQ8*>(dst), cols);
    }
    return out;
}

std::vector<float> dequantized(const TensorInfo& t) {
    std::vector<float> y(size_t(t.rows() * t.cols()));
    const int64_t row_bytes = dtype_row_bytes(t.dtype, t.cols());
    for (int64_t r = 0; r < t.rows(); ++r) {
        const uint8_t* src = t.data + r * row_bytes;
        if (t.dtype == DType::Q4)
            dequantize_row_q4_ref(reinterpret_cast<const BlockQ4*>(src), y.data() + r * t.cols(), t.cols());
        else
            dequantize_row_q8_ref(reinterpret_cast<const BlockQ8*>(src), y.data() + r * t.cols(), t.cols());
    }
    return y;
}

std::vector<uint16_t> halves(const TensorInfo& t) {
    std::vector<uint16_t> h(t.size / 2);
    std::memcpy(h.data(), t.data, t.size);
    return h;
}

}  // namespace

TEST_CASE("convert: tiny Llama to f32 is lossless and the header round-trips the config") {
    TempDir hf, out;
    const FakeModel m = tiny_llama();
    write_hf_dir(hf.path(), m);
    const ConvertSummary s = convert(hf.path(), out / "llama.ember", DType::F32);
    CHECK(dir_entries(out.path()) == std::vector<std::string>{"llama.ember"});

    auto mf = ModelFile::open(out / "llama.ember");
    const json& h = mf->header();
    CHECK(h["format"] == "ember");
    CHECK(h["weights_type"] == "f32");
    CHECK(h["config"] == config_to_json(model_config_from_hf(m.config)));
    const ModelConfig cfg = config_from_json(h["config"]);
    CHECK(config_to_json(cfg) == h["config"]);
    CHECK(cfg.arch == "llama");
    CHECK(cfg.head_dim == 12);
    CHECK(h["source"]["hf_architecture"] == "LlamaForCausalLM");
    CHECK(h["source"]["hf_torch_dtype"] == "float32");
    CHECK(contains(h["source"]["converter"].get<std::string>(), "ember-convert "));
    CHECK(h["generation"] == json::object());
    CHECK(h["tokenizer"]["kind"] == "none");
    CHECK(h["tokenizer"]["blob"].is_null());

    // Every source tensor, in HF order, stored bit for bit.
    REQUIRE(mf->tensors().size() == m.tensors.size());
    CHECK(s.tensors == m.tensors.size());
    for (size_t i = 0; i < m.tensors.size(); ++i) {
        const TensorInfo& t = mf->tensors()[i];
        CHECK(t.name == m.tensors[i].name);
        CHECK(t.dtype == DType::F32);
        CHECK(t.shape == m.tensors[i].shape);
        CHECK(stored_bytes(t) == m.tensors[i].bytes);
    }
    CHECK(s.output_bytes == mf->file_size());
}

TEST_CASE("convert: q4 weights with q8 embeddings by default, --embed-type overrides") {
    TempDir hf, out;
    FakeModel m = tiny_llama();
    write_hf_dir(hf.path(), m);

    convert(hf.path(), out / "q4.ember", DType::Q4);
    auto mf = ModelFile::open(out / "q4.ember");
    CHECK(mf->header()["weights_type"] == "q4");
    CHECK(mf->tensor("model.embed_tokens.weight").dtype == DType::Q8);
    CHECK(mf->tensor("lm_head.weight").dtype == DType::Q8);
    CHECK(mf->tensor("model.norm.weight").dtype == DType::F32);
    CHECK(mf->tensor("model.layers.1.input_layernorm.weight").dtype == DType::F32);

    // hidden 48 is not a multiple of 32: each row is 2 blocks, the second half zero-padded.
    const TensorInfo& q = mf->tensor("model.layers.0.self_attn.q_proj.weight");
    CHECK(q.dtype == DType::Q4);
    CHECK(q.shape == std::vector<int64_t>{48, 48});
    CHECK(q.size == 48u * 2u * sizeof(BlockQ4));
    const StTensor& q_src = m.tensor("model.layers.0.self_attn.q_proj.weight");
    CHECK(stored_bytes(q) == reference_quantized(q_src, DType::Q4));
    CHECK(stored_bytes(mf->tensor("model.embed_tokens.weight")) ==
          reference_quantized(m.tensor("model.embed_tokens.weight"), DType::Q8));
    // And the values are close: the q4 step is absmax / 8 (absmax <= 1 here); rounding costs
    // half a step, clamping the far side of the range to +7 up to one step.
    const std::vector<float> x = q_src.values(), y = dequantized(q);
    float worst = 0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
    CHECK(worst <= 1.0f / 8.0f + 1e-3f);

    convert(hf.path(), out / "q4e.ember", DType::Q4, DType::F16);
    mf = ModelFile::open(out / "q4e.ember");
    CHECK(mf->tensor("model.embed_tokens.weight").dtype == DType::F16);
    CHECK(mf->tensor("lm_head.weight").dtype == DType::F16);
    CHECK(mf->tensor("model.layers.1.mlp.down_proj.weight").dtype == DType::Q4);

    convert(hf.path(), out / "q8.ember", DType::Q8);
    mf = ModelFile::open(out / "q8.ember");
    CHECK(mf->tensor("model.embed_tokens.weight").dtype == DType::Q8);
    CHECK(mf->tensor("model.layers.1.mlp.down_proj.weight").dtype == DType::Q8);
    CHECK(mf->tensor("model.layers.1.post_attention_layernorm.weight").dtype == DType::F32);
}

TEST_CASE("convert: f16 and bf16 sources") {
    TempDir hf16, hfbf, out;
    const FakeModel m16 = tiny_llama("F16"), mbf = tiny_llama("BF16");
    write_hf_dir(hf16.path(), m16);
    write_hf_dir(hfbf.path(), mbf);
    const std::string name = "model.layers.0.mlp.up_proj.weight";

    // f16 -> f32 widens exactly; f16 -> f16 copies the bits.
    convert(hf16.path(), out / "a.ember", DType::F32);
    auto mf = ModelFile::open(out / "a.ember");
    const TensorInfo& up32 = mf->tensor(name);
    std::vector<float> got(size_t(up32.rows() * up32.cols()));
    std::memcpy(got.data(), up32.data, up32.size);
    CHECK(got == m16.tensor(name).values());
    CHECK(mf->tensor("model.norm.weight").dtype == DType::F32);  // vectors widened to f32

    convert(hf16.path(), out / "b.ember", DType::F16);
    mf = ModelFile::open(out / "b.ember");
    CHECK(stored_bytes(mf->tensor(name)) == m16.tensor(name).bytes);

    // bf16 -> bf16 copies the bits; bf16 -> f16 rounds each value once.
    convert(hfbf.path(), out / "c.ember", DType::BF16);
    mf = ModelFile::open(out / "c.ember");
    CHECK(mf->header()["source"]["hf_torch_dtype"] == "bfloat16");
    CHECK(stored_bytes(mf->tensor(name)) == mbf.tensor(name).bytes);

    convert(hfbf.path(), out / "d.ember", DType::F16);
    mf = ModelFile::open(out / "d.ember");
    const std::vector<float> src = mbf.tensor(name).values();
    const std::vector<uint16_t> h = halves(mf->tensor(name));
    REQUIRE(h.size() == src.size());
    for (size_t i = 0; i < src.size(); ++i) CHECK(h[i] == f32_to_f16(src[i]));
}

TEST_CASE("convert: Qwen2 with biases, tied embeddings, BPE tokenizer and chat template") {
    TempDir hf, out;
    const FakeModel m = tiny_qwen2("BF16");
    write_hf_dir(hf.path(), m);
    const json tokenizer_json = {
        {"added_tokens",
         {{{"id", 45}, {"content", "<|endoftext|>"}, {"special", true}},
          {{"id", 46}, {"content", "<|im_end|>"}, {"special", true}}}},
        {"post_processor", {{"type", "ByteLevel"}}},
        {"model", {{"type", "BPE"}, {"vocab", json::object()}, {"merges", json::array()}}}};
    write_text(hf / "tokenizer.json", tokenizer_json.dump());
    const json tok_config = {
        {"add_bos_token", false},
        {"bos_token", nullptr},
        {"eos_token", "<|im_end|>"},
        {"chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}"},
        {"added_tokens_decoder",
         {{"46", {{"content", "<|im_end|>"}, {"special", true}}},
          {"45", {{"content", "<|endoftext|>"}, {"special", true}}}}}};
    write_text(hf / "tokenizer_config.json", tok_config.dump());
    const json generation = {{"eos_token_id", {46, 45}}, {"temperature", 0.7}, {"top_k", 20}};
    write_text(hf / "generation_config.json", generation.dump());

    convert(hf.path(), out / "qwen.ember", DType::Q4);
    auto mf = ModelFile::open(out / "qwen.ember");
    const json& h = mf->header();
    CHECK(h["config"]["arch"] == "qwen2");
    CHECK(h["config"]["qkv_bias"] == true);
    CHECK(h["config"]["tie_embeddings"] == true);
    CHECK(h["config"]["eos_token_ids"] == json({46, 45}));
    CHECK(h["generation"] == generation);

    // The blob comes first and is the file verbatim; the shipped lm_head is dropped (tied).
    CHECK(mf->tensors().front().name == "tokenizer.json");
    CHECK(mf->tensors().front().dtype == DType::U8);
    CHECK(stored_bytes(mf->tensor("tokenizer.json")) == read_bytes(hf / "tokenizer.json"));
    CHECK_FALSE(mf->has("lm_head.weight"));
    CHECK_FALSE(mf->has("tokenizer.model"));
    CHECK(mf->tensor("model.layers.1.self_attn.k_proj.bias").dtype == DType::F32);
    CHECK(mf->tensor("model.layers.1.self_attn.k_proj.bias").shape == std::vector<int64_t>{32});
    CHECK(mf->tensor("model.embed_tokens.weight").dtype == DType::Q8);

    const json& t = h["tokenizer"];
    CHECK(t["kind"] == "bpe");
    CHECK(t["blob"] == "tokenizer.json");
    CHECK(t["bos_token"].is_null());
    CHECK(t["eos_token"] == "<|im_end|>");
    CHECK(t["bos_token_id"] == 45);
    CHECK(t["eos_token_ids"] == json({46, 45}));
    CHECK(t["add_bos"] == false);
    CHECK(t["chat_template"] == tok_config["chat_template"]);
    CHECK(t["added_tokens"] == json({{{"id", 45}, {"content", "<|endoftext|>"}, {"special", true}},
                                     {{"id", 46}, {"content", "<|im_end|>"}, {"special", true}}}));
}

TEST_CASE("convert: SentencePiece preferred over tokenizer.json, both embedded") {
    TempDir hf, out;
    write_hf_dir(hf.path(), tiny_llama());
    const std::string spm_bytes("\x0a\x05piece\x00\x01\xff", 10);  // opaque to the converter
    write_text(hf / "tokenizer.model", spm_bytes);
    write_text(hf / "tokenizer.json", R"({"added_tokens": [{"id": 1, "content": "<s>", "special": true}]})");
    write_text(hf / "tokenizer_config.json",
               json({{"bos_token", {{"content", "<s>"}, {"lstrip", false}}},
                     {"eos_token", "</s>"},
                     {"chat_template", {{{"name", "tool_use"}, {"template", "T"}}, {{"name", "default"}, {"template", "D"}}}}})
                   .dump());

    convert(hf.path(), out / "spm.ember", DType::F16);
    auto mf = ModelFile::open(out / "spm.ember");
    CHECK(mf->tensors()[0].name == "tokenizer.model");
    CHECK(mf->tensors()[1].name == "tokenizer.json");
    const std::vector<uint8_t> spm = stored_bytes(mf->tensor("tokenizer.model"));
    CHECK(std::string(spm.begin(), spm.end()) == spm_bytes);
    const json& t = mf->header()["tokenizer"];
    CHECK(t["kind"] == "sentencepiece");
    CHECK(t["blob"] == "tokenizer.model");
    CHECK(t["bos_token"] == "<s>");
    CHECK(t["eos_token"] == "</s>");
    CHECK(t["add_bos"] == true);  // LlamaTokenizer's default when tokenizer_config is silent
    CHECK(t["chat_template"] == "D");
    CHECK(t["added_tokens"] == json({{{"id", 1}, {"content", "<s>"}, {"special", true}}}));
}

TEST_CASE("convert: a BPE post-processor that prepends BOS means add_bos (Llama 3)") {
    TempDir hf, out;
    write_hf_dir(hf.path(), tiny_llama());
    const json post = {{"type", "Sequence"},
                       {"processors",
                        {{{"type", "ByteLevel"}},
                         {{"type", "TemplateProcessing"},
                          {"single", {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                                      {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}}}}};
    write_text(hf / "tokenizer.json", json({{"post_processor", post}}).dump());
    convert(hf.path(), out / "l3.ember", DType::Q8);
    CHECK(ModelFile::open(out / "l3.ember")->header()["tokenizer"]["add_bos"] == true);
}

TEST_CASE("convert: sharded checkpoint with index gives the same file as a single one") {
    TempDir single, sharded, out;
    const FakeModel m = tiny_qwen2();
    write_hf_dir(single.path(), m);
    write_hf_dir_sharded(sharded.path(), m, 3);
    convert(single.path(), out / "a.ember", DType::Q4);
    convert(sharded.path(), out / "b.ember", DType::Q4);
    CHECK(read_bytes(out / "a.ember") == read_bytes(out / "b.ember"));
}

TEST_CASE("convert: extra tensors are ignored, unknown biases are refused") {
    TempDir hf, out;
    FakeModel m = tiny_llama();
    m.tensors.push_back(random_tensor("model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {6}, 99));
    write_hf_dir(hf.path(), m);
    convert(hf.path(), out / "x.ember", DType::F16);
    CHECK_FALSE(ModelFile::open(out / "x.ember")->has("model.layers.0.self_attn.rotary_emb.inv_freq"));

    TempDir hf2;
    m.tensors.push_back(random_tensor("model.layers.0.self_attn.o_proj.bias", "F32", {48}, 98));
    write_hf_dir(hf2.path(), m);
    CHECK(contains(failed_conversion(hf2.path()), "model.layers.0.self_attn.o_proj.bias"));
}

TEST_CASE("convert: a failed conversion leaves an existing output untouched") {
    TempDir hf, out;
    write_hf_dir(hf.path(), tiny_llama());
    convert(hf.path(), out / "m.ember", DType::Q8);
    const auto before = read_bytes(out / "m.ember");
    std::filesystem::resize_file(hf / "model.safetensors", std::filesystem::file_size(hf / "model.safetensors") - 7);
    CHECK_THROWS_AS(convert(hf.path(), out / "m.ember", DType::F32), ModelFileError);
    CHECK(read_bytes(out / "m.ember") == before);
    CHECK(dir_entries(out.path()) == std::vector<std::string>{"m.ember"});
}

TEST_CASE("convert: bad inputs fail with a clear message and leave nothing behind") {
    TempDir hf;
    FakeModel m = tiny_llama();

    SUBCASE("unsupported architecture") {
        m.config["architectures"] = {"GemmaForCausalLM"};
        write_hf_dir(hf.path(), m);
        const std::string msg = failed_conversion(hf.path());
        CHECK(contains(msg, "config.json"));
        CHECK(contains(msg, "GemmaForCausalLM"));
        CHECK(contains(msg, "LlamaForCausalLM, Qwen2ForCausalLM"));
    }
    SUBCASE("unsupported dtype") {
        StTensor& t = m.tensor("model.layers.1.self_attn.v_proj.weight");
        t.dtype = "F64";
        t.bytes.resize(t.bytes.size() * 2);
        write_hf_dir(hf.path(), m);
        const std::string msg = failed_conversion(hf.path());
        CHECK(contains(msg, "model.safetensors"));
        CHECK(contains(msg, "model.layers.1.self_attn.v_proj.weight"));
        CHECK(contains(msg, "F64"));
    }
    SUBCASE("missing tensor") {
        m.remove("model.layers.1.mlp.gate_proj.weight");
        write_hf_dir(hf.path(), m);
        const std::string msg = failed_conversion(hf.path());
        CHECK(contains(msg, "model.layers.1.mlp.gate_proj.weight [40, 48]"));
        CHECK(contains(msg, "missing"));
    }
    SUBCASE("wrong shape") {
        m.tensor("model.layers.0.self_attn.k_proj.weight") =
            random_tensor("model.layers.0.self_attn.k_proj.weight", "F32", {24, 40}, 5);
        write_hf_dir(hf.path(), m);
        const std::string msg = failed_conversion(hf.path());
        CHECK(contains(msg, "model.layers.0.self_attn.k_proj.weight"));
        CHECK(contains(msg, "[24, 40]"));
        CHECK(contains(msg, "expected [24, 48]"));
    }
    SUBCASE("truncated safetensors") {
        write_hf_dir(hf.path(), m);
        std::filesystem::resize_file(hf / "model.safetensors", std::filesystem::file_size(hf / "model.safetensors") / 2);
        const std::string msg = failed_conversion(hf.path());
        CHECK(contains(msg, "model.safetensors"));
        CHECK(contains(msg, "past the data section"));
    }
    SUBCASE("corrupt safetensors header JSON") {
        write_hf_dir(hf.path(), m);
        auto bytes = read_bytes(hf / "model.safetensors");
        bytes[8] = '[';  // the header object's opening brace
        write_text(hf / "model.safetensors", std::string(bytes.begin(), bytes.end()));
        CHECK(contains(failed_conversion(hf.path()), "header JSON"));
    }
    SUBCASE("missing shard") {
        write_hf_dir_sharded(hf.path(), m, 2);
        std::filesystem::remove(hf / "model-00001-of-00002.safetensors");
        CHECK(contains(failed_conversion(hf.path()), "shard 'model-00001-of-00002.safetensors'"));
    }
    SUBCASE("no weights at all") {
        write_text(hf / "config.json", m.config.dump());
        CHECK(contains(failed_conversion(hf.path()), "no model.safetensors or model.safetensors.index.json"));
    }
    SUBCASE("no config.json") {
        write_safetensors(hf / "model.safetensors", m.tensors);
        CHECK(contains(failed_conversion(hf.path()), "no config.json"));
    }
    SUBCASE("corrupt config.json") {
        write_hf_dir(hf.path(), m);
        write_text(hf / "config.json", "{\"architectures\": [");
        CHECK(contains(failed_conversion(hf.path()), "config.json: invalid JSON"));
    }
    SUBCASE("not a directory") {
        CHECK(contains(failed_conversion(hf / "nope"), "not a directory"));
    }
}

TEST_CASE("convert: stored dtype rules") {
    ConvertOptions o;
    const ExpectedTensor embed{"model.embed_tokens.weight", {8, 8}, true};
    const ExpectedTensor head{"lm_head.weight", {8, 8}, true};
    const ExpectedTensor matrix{"model.layers.0.mlp.up_proj.weight", {8, 8}, true};
    const ExpectedTensor norm{"model.norm.weight", {8}, false};
    for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8, DType::Q4}) {
        CAPTURE(dtype_name(type));
        o.type = type;
        o.embed_type.reset();
        CHECK(stored_dtype(norm, o) == DType::F32);
        CHECK(stored_dtype(matrix, o) == type);
        CHECK(stored_dtype(embed, o) == (type == DType::Q4 ? DType::Q8 : type));
        CHECK(stored_dtype(head, o) == stored_dtype(embed, o));
        o.embed_type = DType::BF16;
        CHECK(stored_dtype(embed, o) == DType::BF16);
        CHECK(stored_dtype(matrix, o) == type);
    }
}
