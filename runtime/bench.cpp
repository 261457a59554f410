#include "runtime/bench.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>

#include "runtime/kv_cache.h"
#include "runtime/llama_graph.h"
#include "runtime/memory_stats.h"
#include "runtime/sampler.h"
#include "runtime/synthetic_model.h"

namespace ember {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string fmt(const char* format, double a, double b = 0) {
    char buf[96];
    std::snprintf(buf, sizeof buf, format, a, b);
    return buf;
}

// Bytes of every weight tensor as stored (the tied embedding once).
uint64_t stored_weight_bytes(const Model& model) {
    const ModelConfig& c = model.config();
    const ModelWeights& w = model.weights();
    auto mat = [](const MatrixView& m) { return uint64_t(m.rows) * uint64_t(m.row_bytes); };
    uint64_t bytes = mat(w.embed) + uint64_t(c.hidden_size) * 4;  // + final norm
    if (!c.tie_embeddings) bytes += mat(w.lm_head);
    const uint64_t bias = c.qkv_bias ? uint64_t((c.n_heads + 2 * c.n_kv_heads) * c.head_dim) * 4 : 0;
    for (const auto& L : w.layers)
        bytes += mat(L.q_proj) + mat(L.k_proj) + mat(L.v_proj) + mat(L.o_proj) + mat(L.gate_proj) +
                 mat(L.up_proj) + mat(L.down_proj) + uint64_t(c.hidden_size) * 8 + bias;
    return bytes;
}

bool all_finite(const std::vector<float>& v, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (!std::isfinite(v[i])) return false;
    return true;
}

// `--parallel`: P sequences with kParallelPrompt-token prompts decode together. The
// prompts are prefilled (untimed) in one batch; then each timed step decodes one token of
// every sequence in a single forward_batch (decode tokens are random, as in tg).
template <typename RunTest>
void run_parallel_tests(const Model& model, const BenchOptions& opts, std::vector<float>& logits,
                        RunTest& run_test) {
    const ModelConfig& cfg = model.config();
    const int64_t V = cfg.vocab_size;
    std::mt19937_64 rng(opts.seed + 1);
    std::uniform_int_distribution<int32_t> token(0, int32_t(V - 1));
    for (int64_t P : opts.parallel) {
        for (int64_t n : opts.n_gen) {
            if (n == 0) continue;
            const int64_t per_seq = kParallelPrompt + n;
            // The bench's --kv-type, as in the single-sequence tests (runtime/memory_plan.cpp
            // counts this pool and graph next to the main ones).
            KvCacheShape shape{int(cfg.n_layers), int(cfg.n_kv_heads), int(cfg.head_dim), 16, opts.kv_type};
            KvBlockPool pool(shape, kv_pool_blocks(shape, per_seq, P));
            LlamaGraph graph(model, per_seq, std::max(kParallelMinBatch, P));
            std::vector<std::unique_ptr<SequenceKv>> seqs;
            std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(P)), steps(static_cast<size_t>(P));  // [P][16], [P][n]
            for (int64_t s = 0; s < P; ++s) {
                seqs.push_back(std::make_unique<SequenceKv>(pool));
                for (int64_t i = 0; i < kParallelPrompt; ++i) prompts[size_t(s)].push_back(token(rng));
                for (int64_t i = 0; i < n; ++i) steps[size_t(s)].push_back(token(rng));
            }
            std::vector<float> batch_logits(static_cast<size_t>(P * V));  // [P, vocab]
            std::vector<BatchItem> items(static_cast<size_t>(P));
            BenchTest t;
            t.name = "tg" + std::to_string(n) + " x" + std::to_string(P);
            t.n_gen = n;
            t.n_parallel = P;
            run_test(t, n, 1, [&](int64_t len) {
                for (int64_t s = 0; s < P; ++s) {
                    seqs[size_t(s)]->clear();
                    items[size_t(s)] = {seqs[size_t(s)].get(), prompts[size_t(s)], nullptr};
                }
                graph.forward_batch(items);
                const auto t0 = Clock::now();
                for (int64_t i = 0; i < len; ++i) {
                    for (int64_t s = 0; s < P; ++s)
                        items[size_t(s)] = {seqs[size_t(s)].get(),
                                            std::span<const int32_t>(&steps[size_t(s)][size_t(i)], 1),
                                            &batch_logits[size_t(s * V)]};
                    graph.forward_batch(items);
                }
                const double seconds = seconds_since(t0);
                std::copy_n(batch_logits.begin(), V, logits.begin());  // checked for NaN by run_test
                return seconds;
            });
        }
    }
}

}  // namespace

std::string ModelSummary::model_type() const {
    return arch + " " + size_label + " " + type;
}

std::string params_label(int64_t n_params) {
    char buf[32];
    if (n_params >= 450'000'000)
        std::snprintf(buf, sizeof buf, "%.1fB", double(n_params) / 1e9);
    else if (n_params >= 1'000'000)
        std::snprintf(buf, sizeof buf, "%.0fM", double(n_params) / 1e6);
    else
        std::snprintf(buf, sizeof buf, "%.0fK", double(n_params) / 1e3);
    return buf;
}

ModelSummary summarize_model(const Model& model, const std::string& name, bool synthetic) {
    ModelSummary s;
    s.name = name;
    s.arch = model.config().arch;
    s.n_params = model_param_count(model.config());
    s.size_label = params_label(s.n_params);
    s.type = std::string(dtype_name(model.weights().layers.at(0).gate_proj.dtype));
    s.embed_type = std::string(dtype_name(model.weights().embed.dtype));
    if (model.has_file()) s.type = model.header().value("weights_type", s.type);
    s.size_bytes = stored_weight_bytes(model);
    s.synthetic = synthetic;
    return s;
}

MeanStd mean_stddev(const std::vector<double>& v) {
    MeanStd r;
    if (v.empty()) return r;
    for (double x : v) r.mean += x;
    r.mean /= double(v.size());
    if (v.size() < 2) return r;
    double ss = 0;
    for (double x : v) ss += (x - r.mean) * (x - r.mean);
    r.stddev = std::sqrt(ss / double(v.size() - 1));
    return r;
}

BenchReport run_bench(const Model& model, const BenchOptions& opts) {
    const ModelConfig& cfg = model.config();
    if (opts.repetitions < 1) throw std::invalid_argument("-r must be at least 1");
    if (opts.ctx < 1) throw std::invalid_argument("--ctx must be positive");
    auto check_fits = [&](int64_t n, const char* what) {
        if (n < 0) throw std::invalid_argument(std::string(what) + " must not be negative");
        if (n > opts.ctx)
            throw std::invalid_argument(std::string(what) + " " + std::to_string(n) + " exceeds --ctx " +
                                        std::to_string(opts.ctx));
    };
    for (int64_t p : opts.n_prompt) check_fits(p, "-p");
    for (int64_t n : opts.n_gen) check_fits(n, "-n");
    for (int64_t p : opts.parallel) {
        if (p < 1) throw std::invalid_argument("--parallel must be at least 1");
        if (p > 256) throw std::invalid_argument("--parallel " + std::to_string(p) + " exceeds 256 sequences");
        for (int64_t n : opts.n_gen) check_fits(kParallelPrompt + n, "--parallel prompt + -n");
    }
    check_fits(opts.ttft_prompt, "--ttft");
    check_fits(opts.prefix_history + opts.prefix_new, "--prefix-history + --prefix-new");
    if (opts.prefix_history > 0 && opts.prefix_new < 1) throw std::invalid_argument("--prefix-new must be at least 1");

    BenchReport r;
    r.isa = isa_description(kernels());
    r.n_threads = omp_get_max_threads();
    r.ctx = opts.ctx;
    r.repetitions = opts.repetitions;
    r.warmup = opts.warmup;
    r.ttft_prompt = opts.ttft_prompt;

    const int64_t V = cfg.vocab_size;
    KvCacheShape shape{int(cfg.n_layers), int(cfg.n_kv_heads), int(cfg.head_dim), 16, opts.kv_type};
    KvBlockPool pool(shape, kv_pool_blocks(shape, opts.ctx, 1, opts.kv_mem));
    r.kv_type = dtype_name(opts.kv_type);
    r.kv_bytes = pool.bytes();
    r.kv_bytes_per_token = kv_bytes_per_token(shape);
    SequenceKv seq(pool);
    LlamaGraph graph(model, opts.ctx);
    std::vector<float> logits(static_cast<size_t>(V));  // [vocab]: last-token logits

    // Random tokens, like llama-bench: the content does not change the work done.
    std::mt19937_64 rng(opts.seed);
    std::uniform_int_distribution<int32_t> token(0, int32_t(V - 1));
    int64_t longest = opts.ttft_prompt;
    for (int64_t p : opts.n_prompt) longest = std::max(longest, p);
    for (int64_t n : opts.n_gen) longest = std::max(longest, n);
    longest = std::max(longest, opts.prefix_history + opts.prefix_new);
    std::vector<int32_t> tokens(static_cast<size_t>(longest));
    for (auto& t : tokens) t = token(rng);

    auto say = [&](const std::string& s) {
        if (opts.progress) opts.progress(s);
    };
    // once(n): one run of the test with n tokens, returning seconds.
    auto run_test = [&](BenchTest& t, int64_t n, int64_t warmup_n,
                        const std::function<double(int64_t)>& once) {
        say(t.name + (opts.warmup ? ": warmup + " : ": ") + std::to_string(opts.repetitions) + " runs");
        if (opts.warmup) once(warmup_n);
        for (int i = 0; i < opts.repetitions; ++i) {
            const double seconds = once(n);
            t.samples_ts.push_back(double(t.n_prompt + t.n_gen) * double(t.n_parallel) / seconds);
        }
        const MeanStd ms = mean_stddev(t.samples_ts);
        t.avg_ts = ms.mean;
        t.stddev_ts = ms.stddev;
        r.logits_finite = r.logits_finite && all_finite(logits, logits.size());
        r.tests.push_back(t);
    };

    for (int64_t p : opts.n_prompt) {
        if (p == 0) continue;
        BenchTest t;
        t.name = "pp" + std::to_string(p);
        t.n_prompt = p;
        run_test(t, p, p, [&](int64_t len) {
            seq.clear();
            const auto t0 = Clock::now();
            graph.forward(std::span<const int32_t>(tokens.data(), size_t(len)), seq, logits.data());
            return seconds_since(t0);
        });
    }
    for (int64_t n : opts.n_gen) {
        if (n == 0) continue;
        BenchTest t;
        t.name = "tg" + std::to_string(n);
        t.n_gen = n;
        run_test(t, n, 1, [&](int64_t len) {
            seq.clear();
            const auto t0 = Clock::now();
            for (int64_t i = 0; i < len; ++i)
                graph.forward(std::span<const int32_t>(&tokens[size_t(i)], 1), seq, logits.data());
            return seconds_since(t0);
        });
    }
    if (!opts.parallel.empty()) run_parallel_tests(model, opts, logits, run_test);
    if (opts.ttft_prompt > 0) {
        // Prefill of the prompt + choosing the first token with default sampling settings.
        // It runs after the pp/tg tests, which leave the caches as warm as a warmup would.
        say("ttft" + std::to_string(opts.ttft_prompt) + ": " + std::to_string(opts.repetitions) + " runs");
        Sampler sampler(SamplingParams{}, V);
        const std::span<const int32_t> prompt(tokens.data(), size_t(opts.ttft_prompt));
        for (int i = 0; i < opts.repetitions; ++i) {
            seq.clear();
            const auto t0 = Clock::now();
            graph.forward(prompt, seq, logits.data());
            r.logits_finite = r.logits_finite && all_finite(logits, logits.size());
            (void)sampler.sample(logits, prompt);
            r.ttft_samples_ms.push_back(seconds_since(t0) * 1000.0);
        }
        const MeanStd ms = mean_stddev(r.ttft_samples_ms);
        r.ttft_ms = ms.mean;
        r.ttft_stddev_ms = ms.stddev;
    }
    if (opts.prefix_history > 0) {
        // A chat's second turn: turn 1 prefills the history on a cold cache (its full blocks
        // are registered as they fill); turn 2, a new sequence, sends history + new tokens,
        // attaches the cached blocks and prefills only the rest. Both include sampling.
        say("prefix cache: history " + std::to_string(opts.prefix_history) + " + " +
            std::to_string(opts.prefix_new) + " new tokens, " + std::to_string(opts.repetitions) + " runs");
        r.prefix_history = opts.prefix_history;
        r.prefix_new = opts.prefix_new;
        Sampler sampler(SamplingParams{}, V);
        const std::span<const int32_t> turn1(tokens.data(), size_t(opts.prefix_history));
        const std::span<const int32_t> turn2(tokens.data(), size_t(opts.prefix_history + opts.prefix_new));
        auto timed_turn = [&](std::span<const int32_t> prompt, SequenceKv& s) {
            const auto t0 = Clock::now();
            const int64_t reused = s.attach_cached_prefix(prompt);
            graph.forward(prompt.subspan(size_t(reused)), s, logits.data());
            r.logits_finite = r.logits_finite && all_finite(logits, logits.size());
            (void)sampler.sample(logits, prompt);
            return std::pair(seconds_since(t0) * 1000.0, reused);
        };
        for (int i = 0; i < opts.repetitions; ++i) {
            seq.clear();
            pool.drop_cache();  // turn 1 starts cold
            r.turn1_samples_ms.push_back(timed_turn(turn1, seq).first);
            seq.clear();  // the turn-1 request ends; its blocks stay cached
            const auto [ms, reused] = timed_turn(turn2, seq);
            r.turn2_samples_ms.push_back(ms);
            r.prefix_reused = reused;
        }
        const MeanStd t1 = mean_stddev(r.turn1_samples_ms), t2 = mean_stddev(r.turn2_samples_ms);
        r.turn1_ttft_ms = t1.mean;
        r.turn1_stddev_ms = t1.stddev;
        r.turn2_ttft_ms = t2.mean;
        r.turn2_stddev_ms = t2.stddev;
    }
    seq.clear();
    r.peak_rss_mb = double(peak_rss_bytes()) / (1024.0 * 1024.0);
    return r;
}

std::string format_bench_markdown(const BenchReport& r) {
    const ModelSummary& m = r.model;
    std::string out;
    const std::string model = m.model_type() + (m.synthetic ? " (synthetic)" : "");
    char size[32], params[32];
    std::snprintf(size, sizeof size, "%.2f MiB", double(m.size_bytes) / (1024.0 * 1024.0));
    std::snprintf(params, sizeof params, "%.2f M", double(m.n_params) / 1e6);
    out += "| model | size | params | type | isa | threads | test | t/s |\n";
    out += "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: |\n";
    for (const auto& t : r.tests) {
        const std::string type = m.type == m.embed_type ? m.type : m.type + " (embed " + m.embed_type + ")";
        out += "| " + model + " | " + size + " | " + params + " | " + type + " | " + r.isa + " | " +
               std::to_string(r.n_threads) + " | " + t.name + " | " +
               fmt("%.2f ± %.2f", t.avg_ts, t.stddev_ts) + " |\n";
    }
    out += "\n";
    for (const auto& t : r.tests)
        if (t.n_parallel > 1) {
            out += "tg<n> x<P>: P sequences (" + std::to_string(kParallelPrompt) +
                   "-token prompts) decoding together, one batched forward per step; t/s is their aggregate\n";
            break;
        }
    if (r.ttft_prompt > 0)
        out += "TTFT (" + std::to_string(r.ttft_prompt) +
               "-token prompt + first token): " + fmt("%.1f ± %.1f ms", r.ttft_ms, r.ttft_stddev_ms) + "\n";
    if (r.prefix_history > 0)
        out += "prefix cache: turn 1 (" + std::to_string(r.prefix_history) + "-token history, cold) TTFT " +
               fmt("%.1f ± %.1f ms", r.turn1_ttft_ms, r.turn1_stddev_ms) + "; turn 2 (+" +
               std::to_string(r.prefix_new) + " tokens, " + std::to_string(r.prefix_reused) + " reused) TTFT " +
               fmt("%.1f ± %.1f ms", r.turn2_ttft_ms, r.turn2_stddev_ms) +
               fmt(" (%.1fx faster)\n", r.turn1_ttft_ms / std::max(r.turn2_ttft_ms, 1e-9));
    out += "peak RSS: " + fmt("%.1f MB", r.peak_rss_mb) + " (KV cache for --ctx " + std::to_string(r.ctx) + ": " +
           r.kv_type + ", " + fmt("%.1f MiB", double(r.kv_bytes) / (1024.0 * 1024.0)) + ", " +
           std::to_string(r.kv_bytes_per_token) + " bytes/token)\n";
    out +=
        "load: " + fmt("%.1f ms", r.load_ms) +
        (m.synthetic ? " (random weights generated in memory: the numbers measure speed, not quality)" : "") +
        "\n";
    out += "method: " + std::to_string(r.repetitions) +
           (r.repetitions == 1 ? " repetition" : " repetitions") +
           (r.warmup ? " after a warmup" : ", no warmup") + ", mean ± stddev; model: " + m.name + "\n";
    if (!r.logits_finite) out += "WARNING: the logits contained NaN or inf\n";
    return out;
}

nlohmann::json bench_json(const BenchReport& r) {
    const ModelSummary& m = r.model;
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& t : r.tests) {
        arr.push_back({{"test", t.name},
                       {"n_prompt", t.n_prompt},
                       {"n_gen", t.n_gen},
                       {"n_parallel", t.n_parallel},
                       {"n_threads", r.n_threads},
                       {"avg_ts", t.avg_ts},
                       {"stddev_ts", t.stddev_ts},
                       {"samples_ts", t.samples_ts},
                       {"repetitions", r.repetitions},
                       {"warmup", r.warmup},
                       {"ttft_ms", r.ttft_ms},
                       {"ttft_stddev_ms", r.ttft_stddev_ms},
                       {"ttft_n_prompt", r.ttft_prompt},
                       {"peak_rss_mb", r.peak_rss_mb},
                       {"load_ms", r.load_ms},
                       {"n_ctx", r.ctx},
                       {"kv_type", r.kv_type},
                       {"kv_bytes", r.kv_bytes},
                       {"kv_bytes_per_token", r.kv_bytes_per_token},
                       {"prefix_history", r.prefix_history},
                       {"prefix_new", r.prefix_new},
                       {"prefix_reused", r.prefix_reused},
                       {"turn1_ttft_ms", r.turn1_ttft_ms},
                       {"turn2_ttft_ms", r.turn2_ttft_ms},
                       {"isa", r.isa},
                       {"model", m.name},
                       {"model_type", m.model_type()},
                       {"model_size", m.size_bytes},
                       {"model_n_params", m.n_params},
                       {"weights_type", m.type},
                       {"embed_type", m.embed_type},
                       {"synthetic", m.synthetic},
                       {"logits_finite", r.logits_finite}});
    }
    return arr;
}

}  // namespace ember
