// `ember bench`: the llama-bench method. pp<N> = prefill of N random tokens into an empty
// sequence (last-token logits only); tg<N> = N single-token decode steps starting from an
// empty context. Tokenization and sampling are excluded from both. Each test is warmed
// up untimed first, as llama-bench does (pp: one full run; tg: one decode step, which
// touches every weight), then `repetitions` timed runs give mean ± stddev of tokens/s.
// TTFT adds what a user waits for: prefill of an N-token prompt + sampling the first token.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/model.h"

namespace ember {

struct BenchOptions {
    std::vector<int64_t> n_prompt = {512};  // one pp test per entry; 0 = none
    std::vector<int64_t> n_gen = {128};     // one tg test per entry; 0 = none
    // `--parallel`: one "tg<n> x<P>" test per entry P (and per -n): P sequences, each with a
    // kParallelPrompt-token prompt (prefilled untimed), decode n tokens together, one
    // LlamaGraph::forward_batch per step; t/s is the aggregate P*n / time. Empty: none.
    std::vector<int64_t> parallel;
    int repetitions = 5;
    bool warmup = true;        // untimed warmup before each test (see above)
    int64_t ttft_prompt = 50;  // 0: no TTFT measurement
    int64_t ctx = 4096;        // positions the KV pool is sized for (matters for RSS)
    uint64_t seed = 1234;      // random prompt / decode tokens
    DType kv_type = DType::F16;  // KV cache element type (f32, f16, q8)
    uint64_t kv_mem = 0;         // KV pool bytes; 0 = sized for ctx
    // Prefix-cache TTFT (0 = skip): turn 1 = a cold prompt of prefix_history tokens; turn 2
    // = the same history + prefix_new tokens, attaching turn 1's cached blocks first.
    int64_t prefix_history = 0;
    int64_t prefix_new = 32;
    // Called with a short status line before each test (e.g. for stderr); may be empty.
    std::function<void(const std::string&)> progress;
};

// Prompt tokens of each sequence of a --parallel test (random, prefilled before timing).
constexpr int64_t kParallelPrompt = 16;
// Tokens per forward_batch step of the --parallel tests' graph: at least this many, and at
// least P (so a decode step of P sequences is one step). The memory planner counts it.
constexpr int64_t kParallelMinBatch = 256;

struct BenchTest {
    std::string name;  // "pp512", "tg128", "tg128 x8"
    int64_t n_prompt = 0, n_gen = 0;
    int64_t n_parallel = 1;  // sequences decoding together (--parallel); t/s counts all of them
    std::vector<double> samples_ts;  // tokens/s of each timed repetition
    double avg_ts = 0, stddev_ts = 0;
};

// What the table and JSON say about the model.
struct ModelSummary {
    std::string name;         // file name, or "synthetic:Qwen2.5-0.5B-Instruct"
    std::string arch;         // "qwen2"
    std::string size_label;   // "0.5B", "135M"
    std::string type;         // weight matrix type, "q4"
    std::string embed_type;   // embedding / lm_head type, "q8"
    uint64_t size_bytes = 0;  // all weight tensors as stored
    int64_t n_params = 0;
    bool synthetic = false;
    std::string model_type() const;  // "qwen2 0.5B q4"
};

// Summary of a loaded or synthetic model; `name` as it should appear in reports.
ModelSummary summarize_model(const Model& model, const std::string& name, bool synthetic);

struct BenchReport {
    ModelSummary model;
    std::string isa;  // kernel table in use: "generic", "avx2", "avx2+avx512-vnni", "neon", ...
    int n_threads = 0;
    int64_t ctx = 0;
    int repetitions = 0;
    bool warmup = true;
    std::vector<BenchTest> tests;
    int64_t ttft_prompt = 0;
    std::vector<double> ttft_samples_ms;
    double ttft_ms = 0, ttft_stddev_ms = 0;
    std::string kv_type;    // "f16"
    int64_t kv_bytes = 0;   // KV pool size
    int64_t kv_bytes_per_token = 0;
    // Prefix-cache test (prefix_history > 0): TTFT of each turn; tokens turn 2 reused.
    int64_t prefix_history = 0, prefix_new = 0, prefix_reused = 0;
    std::vector<double> turn1_samples_ms, turn2_samples_ms;
    double turn1_ttft_ms = 0, turn1_stddev_ms = 0, turn2_ttft_ms = 0, turn2_stddev_ms = 0;
    double load_ms = 0;         // Model::load wall time (generation time for synthetic models)
    double peak_rss_mb = 0;     // process peak RSS after the runs, MiB
    bool logits_finite = true;  // no NaN / inf in any logits seen
};

// Runs every test on `model` with a KV pool of opts.ctx positions. Throws
// std::invalid_argument when a test does not fit in the context. Fills tests, TTFT, isa,
// threads, ctx, peak RSS; the caller fills model and load_ms.
BenchReport run_bench(const Model& model, const BenchOptions& opts);

// llama-bench style markdown table plus TTFT / peak RSS / load lines.
std::string format_bench_markdown(const BenchReport& r);
// One object per test: test, n_prompt, n_gen, n_parallel, n_threads, avg_ts, stddev_ts, samples_ts,
// ttft_ms, peak_rss_mb, load_ms, model_type, model_size, model_n_params, and more.
nlohmann::json bench_json(const BenchReport& r);

// Mean and sample standard deviation (0 for fewer than two values).
struct MeanStd {
    double mean = 0, stddev = 0;
};
MeanStd mean_stddev(const std::vector<double>& v);

// 494032768 -> "0.5B", 134515008 -> "135M" (llama-bench's model label).
std::string params_label(int64_t n_params);

}  // namespace ember
