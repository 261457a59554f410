// ember bench / perplexity building blocks: the built-in shape table, synthetic weights,
// the memory check, the benchmark report and perplexity / KL on synthetic models.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "kernels/interleaved8.h"
#include "kernels/quant.h"
#include "runtime/bench.h"
#include "runtime/convert/hf_config.h"
#include "runtime/kv_cache.h"
#include "runtime/llama_graph.h"
#include "runtime/memory_stats.h"
#include "runtime/perplexity.h"
#include "runtime/synthetic_model.h"
#include "tests/tiny_qwen2_config.h"

using namespace ember;

namespace {

ModelConfig tiny_config() { return test::tiny_qwen2_config(256); }

// Last-position logits of `tokens` on a fresh sequence.
std::vector<float> last_logits(const Model& m, const std::vector<int32_t>& tokens) {
    const ModelConfig& c = m.config();
    KvBlockPool pool({int(c.n_layers), int(c.n_kv_heads), int(c.head_dim), 16}, 8);
    SequenceKv seq(pool);
    LlamaGraph graph(m, 128);
    std::vector<float> logits(size_t(c.vocab_size));
    graph.forward(tokens, seq, logits.data());
    return logits;
}

bool finite(const std::vector<float>& v) {
    for (float x : v)
        if (!std::isfinite(x)) return false;
    return true;
}

double row_std(const MatrixView& m, int64_t row) {
    std::vector<float> v(size_t(m.cols));
    matrix_row_to_f32(m, row, v.data());
    double s = 0, ss = 0;
    for (float x : v) s += x, ss += double(x) * x;
    const double mean = s / double(v.size());
    return std::sqrt(ss / double(v.size()) - mean * mean);
}

}  // namespace

TEST_CASE("built-in synthetic shapes have the published parameter counts") {
    // Published counts (HF model cards / safetensors metadata; tied embeddings once).
    const std::map<std::string, int64_t> published = {
        {"Qwen2.5-0.5B-Instruct", 494032768},     {"Qwen2.5-1.5B-Instruct", 1543714304},
        {"Qwen2.5-7B-Instruct", 7615616512},      {"DeepSeek-R1-Distill-Qwen-1.5B", 1777088000},
        {"Llama-3.2-1B-Instruct", 1235814400},    {"Meta-Llama-3-8B-Instruct", 8030261248},
        {"TinyLlama-1.1B-Chat-v1.0", 1100048384}, {"SmolLM2-135M-Instruct", 134515008},
    };
    CHECK(synthetic_models().size() == published.size());
    for (const auto& s : synthetic_models()) {
        CAPTURE(s.name);
        CHECK_NOTHROW(s.config.validate());
        REQUIRE(published.count(s.name) == 1);
        CHECK(model_param_count(s.config) == published.at(s.name));
        CHECK(find_synthetic_model(s.alias) == &s);
        CHECK(find_synthetic_model(s.name) == &s);
    }
    CHECK(find_synthetic_model("QWEN2.5-0.5B") == find_synthetic_model("Qwen2.5-0.5B-Instruct"));
    CHECK(find_synthetic_model("llama-3-8b-instruct") == find_synthetic_model("Meta-Llama-3-8B-Instruct"));
    CHECK(find_synthetic_model("tinyllama-1.1b-chat") == find_synthetic_model("TinyLlama-1.1B-Chat-v1.0"));
    CHECK(find_synthetic_model("gpt-2") == nullptr);
}

TEST_CASE("built-in synthetic shapes equal ../shared/configs read by the converter") {
    const char* shared = std::getenv("EMBER_SHARED");
    const std::filesystem::path dir = std::filesystem::path(shared ? shared : "../shared") / "configs";
    if (!std::filesystem::exists(dir)) {
        MESSAGE("skipped: " << dir << " not found");
        return;
    }
    for (const auto& s : synthetic_models()) {
        CAPTURE(s.name);
        const auto path = dir / s.name / "config.json";
        REQUIRE(std::filesystem::exists(path));
        std::ifstream in(path);
        const ModelConfig hf = model_config_from_hf(nlohmann::json::parse(in));
        // bos / eos may also come from generation_config.json; the shapes must be identical.
        nlohmann::json a = config_to_json(hf), b = config_to_json(s.config);
        a.erase("eos_token_ids");
        b.erase("eos_token_ids");
        CHECK(a.dump() == b.dump());
    }
}

TEST_CASE("synthetic models: every storage type gives finite logits, reproducible from the seed") {
    const ModelConfig c = tiny_config();
    const std::vector<int32_t> prompt = {1, 17, 250, 3, 99, 42};
    for (DType d : {DType::F32, DType::F16, DType::BF16, DType::Q8, DType::Q4}) {
        CAPTURE(dtype_name(d));
        auto m = Model::synthetic(c, d, default_embed_type(d), 7);
        CHECK_FALSE(m->has_file());
        CHECK(m->header().is_object());
        CHECK(m->tokenizer() == nullptr);
        CHECK(m->weights().layers[0].q_proj.dtype == d);
        CHECK(m->weights().embed.dtype == default_embed_type(d));
        // Weights std close to 0.02 (HF initializer_range), per row.
        const double sd = row_std(m->weights().layers[1].gate_proj, 5);
        CHECK(sd > 0.01);
        CHECK(sd < 0.04);
        const auto a = last_logits(*m, prompt);
        CHECK(finite(a));
        auto m2 = Model::synthetic(c, d, default_embed_type(d), 7);
        CHECK(last_logits(*m2, prompt) == a);
        auto m3 = Model::synthetic(c, d, default_embed_type(d), 8);
        CHECK(last_logits(*m3, prompt) != a);
    }
}

TEST_CASE("synthetic q4 / q8 rows pad the last block with zeros") {
    const ModelConfig c = tiny_config();  // hidden 80 = 2.5 blocks
    for (DType d : {DType::Q4, DType::Q8}) {
        auto m = Model::synthetic(c, d, d, 3);
        const MatrixView& w = m->weights().layers[0].q_proj;
        REQUIRE(w.cols == 80);
        std::vector<float> full(96);
        const auto* row = static_cast<const uint8_t*>(w.data) + 2 * w.row_bytes;
        std::vector<uint8_t> gathered(static_cast<size_t>(w.row_bytes));
        if (w.layout == WeightLayout::kInterleaved8) {  // repacked for the AVX2 kernels at load
            il8::copy_row(w, 2, gathered.data());
            row = gathered.data();
        }
        if (d == DType::Q4)
            dequantize_row_q4_ref(reinterpret_cast<const BlockQ4*>(row), full.data(), 96);
        else
            dequantize_row_q8_ref(reinterpret_cast<const BlockQ8*>(row), full.data(), 96);
        for (int i = 80; i < 96; ++i) CHECK(full[size_t(i)] == 0.0f);
    }
}

TEST_CASE("real shapes with synthetic weights keep the logits finite through every layer") {
    for (const char* name : {"smollm2-135m", "qwen2.5-0.5b"}) {
        CAPTURE(name);
        const SyntheticSpec* s = find_synthetic_model(name);
        REQUIRE(s);
        auto m = Model::synthetic(s->config, DType::Q4, DType::Q8, 1);
        const auto logits = last_logits(*m, {1, 2, 3, 4});
        CHECK(finite(logits));
        float mx = 0;
        for (float x : logits) mx = std::max(mx, std::fabs(x));
        CHECK(mx > 0.0f);
        CHECK(mx < 100.0f);
    }
}

TEST_CASE("memory plan and the refusal message") {
    const SyntheticSpec* s = find_synthetic_model("qwen2.5-7b");
    REQUIRE(s);
    const MemoryPlan f32 = memory_plan(s->config, DType::F32, DType::F32, 4096);
    const MemoryPlan q4 = memory_plan(s->config, DType::Q4, DType::Q8, 4096);
    CHECK(f32.total == f32.weights + f32.kv_cache + f32.scratch + f32.overhead);
    CHECK(f32.weights == uint64_t(model_param_count(s->config)) * 4);
    CHECK(q4.weights < f32.weights / 5);
    // KV: 28 layers x K,V x 4 kv heads x 128 dims x 4096 positions x 4 bytes.
    CHECK(f32.kv_cache == uint64_t(28) * 2 * 4 * 128 * 4096 * 4);
    CHECK_NOTHROW(require_memory(q4, q4.total, "x", "test"));
    try {
        require_memory(q4, 100ull << 20, "Qwen2.5-7B-Instruct as q4", "--mem-limit 100M");
        FAIL("expected InsufficientMemory");
    } catch (const InsufficientMemory& e) {
        const std::string msg = e.what();
        CHECK(msg.find("Qwen2.5-7B-Instruct as q4 needs ") != std::string::npos);
        CHECK(msg.find(format_bytes(q4.total)) != std::string::npos);
        CHECK(msg.find("100.00 MiB") != std::string::npos);
        CHECK(msg.find("--mem-limit 100M") != std::string::npos);
    }
}

TEST_CASE("byte sizes") {
    CHECK(parse_byte_size("4096") == 4096);
    CHECK(parse_byte_size("100M") == 100ull << 20);
    CHECK(parse_byte_size("1.5G") == 3ull << 29);
    CHECK(parse_byte_size("2GiB") == 2ull << 30);
    CHECK(parse_byte_size("64kb") == 64ull << 10);
    CHECK_THROWS_AS(parse_byte_size("lots"), std::invalid_argument);
    CHECK_THROWS_AS(parse_byte_size("10X"), std::invalid_argument);
    CHECK_THROWS_AS(parse_byte_size("-1M"), std::invalid_argument);
    CHECK(format_bytes(1536) == "1.50 KiB");
    CHECK(mem_available_bytes() > 0);
    CHECK(peak_rss_bytes() > 0);
}

TEST_CASE("run_bench: llama-bench tests, JSON fields and sane values") {
    auto m = Model::synthetic(tiny_config(), DType::Q8, DType::Q8, 1);
    BenchOptions o;
    o.n_prompt = {16, 0, 32};
    o.n_gen = {8};
    o.repetitions = 3;
    o.ttft_prompt = 10;
    o.ctx = 64;
    int progress_lines = 0;
    o.progress = [&](const std::string&) { ++progress_lines; };
    BenchReport r = run_bench(*m, o);
    r.model = summarize_model(*m, "synthetic:tiny", true);
    r.load_ms = 1.5;
    CHECK(progress_lines == 4);
    REQUIRE(r.tests.size() == 3);
    CHECK(r.tests[0].name == "pp16");
    CHECK(r.tests[1].name == "pp32");
    CHECK(r.tests[2].name == "tg8");
    CHECK(r.logits_finite);
    CHECK(r.ttft_samples_ms.size() == 3);
    CHECK(r.ttft_ms > 0);
    CHECK(r.peak_rss_mb > 1);
    CHECK(r.model.n_params == model_param_count(tiny_config()));
    CHECK(r.model.model_type() == "qwen2 " + params_label(r.model.n_params) + " q8");
    CHECK(r.model.size_bytes == model_weight_bytes(tiny_config(), DType::Q8, DType::Q8));

    const nlohmann::json j = bench_json(r);
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 3);
    for (const auto& t : j) {
        for (const char* key :
             {"test", "n_prompt", "n_gen", "n_threads", "avg_ts", "stddev_ts", "samples_ts", "ttft_ms",
              "peak_rss_mb", "load_ms", "model_type", "model_size", "model_n_params"})
            CHECK_MESSAGE(t.contains(key), key);
        CHECK(t["samples_ts"].size() == 3);
        CHECK(t["avg_ts"].get<double>() > 0);
        CHECK(t["stddev_ts"].get<double>() >= 0);
        CHECK(t["n_threads"].get<int>() >= 1);
        CHECK(t["load_ms"].get<double>() == 1.5);
        CHECK(t["synthetic"].get<bool>());
    }
    CHECK(j[0]["n_prompt"] == 16);
    CHECK(j[0]["n_gen"] == 0);
    CHECK(j[2]["n_gen"] == 8);
    const std::string md = format_bench_markdown(r);
    CHECK(md.find("| tg8 |") != std::string::npos);
    CHECK(md.find("synthetic") != std::string::npos);
    CHECK(md.find("TTFT (10-token prompt") != std::string::npos);

    o.n_prompt = {65};  // does not fit --ctx 64
    CHECK_THROWS_AS(run_bench(*m, o), std::invalid_argument);
}

TEST_CASE("mean, stddev and labels") {
    const MeanStd a = mean_stddev({2, 4, 4, 4, 5, 5, 7, 9});
    CHECK(a.mean == doctest::Approx(5.0));
    CHECK(a.stddev == doctest::Approx(2.138089935));
    CHECK(mean_stddev({3}).stddev == 0);
    CHECK(params_label(494032768) == "0.5B");
    CHECK(params_label(8030261248) == "8.0B");
    CHECK(params_label(134515008) == "135M");
    CHECK(params_label(260000) == "260K");
}

TEST_CASE("perplexity: a model against itself has KL 0 and full top-1 agreement") {
    auto m = Model::synthetic(tiny_config(), DType::F32, DType::F32, 5);
    std::mt19937 rng(1);
    std::vector<int32_t> tokens(200);
    for (auto& t : tokens) t = int32_t(rng() % 300);
    PerplexityOptions o;
    o.ctx = 64;
    int chunks_seen = 0;
    const PerplexityResult r = compute_perplexity(*m, m.get(), tokens, o, [&](const PerplexityProgress& p) {
        ++chunks_seen;
        CHECK(p.chunk == chunks_seen);
        CHECK(p.kl.has_value());
    });
    CHECK(r.n_chunks == 3);  // 200 / 64, tail dropped
    CHECK(chunks_seen == 3);
    CHECK(r.n_scored == 3 * (64 - 1 - 32));
    CHECK(r.running_ppl.size() == 3);
    // A random model on random tokens: about the vocabulary size, finite.
    CHECK(r.ppl > 50);
    CHECK(r.ppl < 2000);
    CHECK(r.ppl_stderr > 0);
    REQUIRE(r.kl);
    CHECK(r.kl->mean == doctest::Approx(0.0).epsilon(1e-12));
    CHECK(r.kl->max < 1e-9);
    CHECK(r.kl->top1_agreement == 1.0);
    CHECK(r.kl->base_ppl == doctest::Approx(r.ppl));

    o.score_all = true;
    o.max_chunks = 1;
    const PerplexityResult all = compute_perplexity(*m, nullptr, tokens, o);
    CHECK(all.n_chunks == 1);
    CHECK(all.n_scored == 63);
    CHECK_FALSE(all.kl);

    // q8 against f32 of the same shape and seed differs, but little.
    auto q = Model::synthetic(tiny_config(), DType::Q8, DType::Q8, 5);
    o = PerplexityOptions{};
    o.ctx = 64;
    const PerplexityResult kq = compute_perplexity(*q, m.get(), tokens, o);
    REQUIRE(kq.kl);
    CHECK(kq.kl->mean >= 0);

    std::vector<int32_t> short_text(10, 5);
    CHECK_THROWS_AS(compute_perplexity(*m, nullptr, short_text, o), std::invalid_argument);
    std::vector<int32_t> bad(64, 300);
    CHECK_THROWS_AS(compute_perplexity(*m, nullptr, bad, o), std::invalid_argument);
}

TEST_CASE("token lists") {
    CHECK(parse_token_list("1,2, 3\n4\t5 ,6") == std::vector<int32_t>{1, 2, 3, 4, 5, 6});
    CHECK(parse_token_list("").empty());
    CHECK_THROWS_AS(parse_token_list("1,x"), std::invalid_argument);
    CHECK_THROWS_AS(parse_token_list("1,-2"), std::invalid_argument);
}
