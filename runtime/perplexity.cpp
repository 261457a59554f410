#include "runtime/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "runtime/kv_cache.h"
#include "runtime/llama_graph.h"

namespace ember {
namespace {

// log(sum exp(x)) over one row of logits, in double.
double log_sum_exp(const float* x, int64_t n) {
    float mx = x[0];
    for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::exp(double(x[i]) - double(mx));
    return double(mx) + std::log(s);
}

int64_t argmax(const float* x, int64_t n) {
    return std::max_element(x, x + n) - x;
}

// Running sums of a per-position quantity: mean and standard error of the mean.
struct Accumulator {
    double sum = 0, sum_sq = 0;
    int64_t n = 0;
    void add(double v) {
        sum += v;
        sum_sq += v * v;
        ++n;
    }
    double mean() const { return n ? sum / double(n) : 0.0; }
    double stderr_mean() const {
        if (n < 2) return 0.0;
        const double m = mean(), var = (sum_sq / double(n) - m * m) * double(n) / double(n - 1);
        return std::sqrt(std::max(var, 0.0) / double(n));
    }
};

// One model with its own KV pool (of kv_type), graph and all-position logits buffer.
struct Runner {
    const Model& model;
    KvBlockPool pool;
    SequenceKv seq;
    LlamaGraph graph;
    std::vector<float> logits;  // [ctx, vocab]

    Runner(const Model& m, int64_t ctx, DType kv_type)
        : model(m),
          pool(KvCacheShape{int(m.config().n_layers), int(m.config().n_kv_heads), int(m.config().head_dim),
                            16, kv_type},
               int32_t((ctx + 15) / 16)),
          seq(pool),
          graph(m, ctx),
          logits(size_t(ctx) * size_t(m.config().vocab_size)) {}

    const float* run(std::span<const int32_t> chunk) {
        seq.clear();
        graph.forward(chunk, seq, logits.data(), /*all_logits=*/true);
        return logits.data();
    }
};

double ppl_error(const Accumulator& nll) {
    return std::exp(nll.mean()) * nll.stderr_mean();
}

}  // namespace

std::vector<int32_t> parse_token_list(const std::string& text) {
    std::string s = text;
    std::replace(s.begin(), s.end(), ',', ' ');
    std::istringstream in(s);
    std::vector<int32_t> ids;
    std::string item;
    while (in >> item) {
        size_t used = 0;
        long long v = -1;
        try {
            v = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.size() || v < 0 || v > INT32_MAX)
            throw std::invalid_argument("'" + item +
                                        "' is not a token id (expected ids separated by commas or spaces)");
        ids.push_back(int32_t(v));
    }
    return ids;
}

PerplexityResult compute_perplexity(const Model& model, const Model* base, std::span<const int32_t> tokens,
                                    const PerplexityOptions& opts,
                                    const std::function<void(const PerplexityProgress&)>& on_chunk) {
    const ModelConfig& cfg = model.config();
    const int64_t V = cfg.vocab_size, ctx = opts.ctx;
    if (ctx < 2) throw std::invalid_argument("--ctx must be at least 2 for perplexity");
    if (ctx > cfg.max_position)
        throw std::invalid_argument("--ctx " + std::to_string(ctx) + " exceeds the model's maximum of " +
                                    std::to_string(cfg.max_position) + " positions");
    if (base && base->config().vocab_size != V)
        throw std::invalid_argument(
            "the base model's vocabulary (" + std::to_string(base->config().vocab_size) +
            ") differs from the model's (" + std::to_string(V) + "); KL needs the same tokenizer");
    for (int32_t t : tokens)
        if (t < 0 || t >= V)
            throw std::invalid_argument("token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                        std::to_string(V - 1) + ")");
    int64_t n_chunks = int64_t(tokens.size()) / ctx;
    if (n_chunks == 0)
        throw std::invalid_argument("the text has " + std::to_string(tokens.size()) +
                                    " tokens, fewer than one chunk of " + std::to_string(ctx) +
                                    " (use a longer text or a smaller --ctx)");
    if (opts.max_chunks > 0) n_chunks = std::min(n_chunks, opts.max_chunks);

    const auto t0 = std::chrono::steady_clock::now();
    if (!is_kv_type(opts.kv_type))
        throw std::invalid_argument("--kv-type must be f32, f16 or q8, not " + std::string(dtype_name(opts.kv_type)));
    Runner runner(model, ctx, opts.kv_type);
    std::optional<Runner> base_runner;  // the reference: always f32 KV
    if (base) base_runner.emplace(*base, ctx, DType::F32);

    const int64_t first = opts.score_all ? 0 : ctx / 2;  // first scored position of a chunk
    const int64_t bos = model.tokenizer_info().add_bos ? model.tokenizer_info().bos_token_id : -1;
    PerplexityResult r;
    r.n_tokens = int64_t(tokens.size());
    r.n_chunks = n_chunks;
    r.n_ctx = ctx;
    Accumulator nll, base_nll, kl;
    double kl_max = 0;
    int64_t same_top1 = 0;
    std::vector<int32_t> chunk(static_cast<size_t>(ctx));
    for (int64_t c = 0; c < n_chunks; ++c) {
        std::copy_n(tokens.begin() + c * ctx, ctx, chunk.begin());
        if (bos >= 0) chunk[0] = int32_t(bos);
        const float* logits = runner.run(chunk);  // [ctx, V]
        const float* base_logits = base_runner ? base_runner->run(chunk) : nullptr;

        const int64_t n_pos = ctx - 1 - first;
        std::vector<double> pos_nll(static_cast<size_t>(n_pos)), pos_base_nll(static_cast<size_t>(n_pos)),
            pos_kl(static_cast<size_t>(n_pos));
        std::vector<uint8_t> pos_same(static_cast<size_t>(n_pos));
#pragma omp parallel for schedule(dynamic, 4)
        for (int64_t j = 0; j < n_pos; ++j) {
            const int64_t pos = first + j;
            const int32_t target = chunk[size_t(pos + 1)];
            const float* row = logits + pos * V;
            const double lse = log_sum_exp(row, V);
            pos_nll[size_t(j)] = lse - double(row[target]);
            if (!base_logits) continue;
            const float* brow = base_logits + pos * V;
            const double blse = log_sum_exp(brow, V);
            pos_base_nll[size_t(j)] = blse - double(brow[target]);
            double d = 0;
            for (int64_t v = 0; v < V; ++v) {
                const double lp_base = double(brow[v]) - blse, lp = double(row[v]) - lse;
                d += std::exp(lp_base) * (lp_base - lp);
            }
            pos_kl[size_t(j)] = std::max(d, 0.0);  // >= 0 mathematically; clip rounding
            pos_same[size_t(j)] = argmax(row, V) == argmax(brow, V);
        }
        for (int64_t j = 0; j < n_pos; ++j) {
            nll.add(pos_nll[size_t(j)]);
            if (!base_logits) continue;
            base_nll.add(pos_base_nll[size_t(j)]);
            kl.add(pos_kl[size_t(j)]);
            kl_max = std::max(kl_max, pos_kl[size_t(j)]);
            same_top1 += pos_same[size_t(j)];
        }
        r.running_ppl.push_back(std::exp(nll.mean()));
        if (base) {
            KlStats k;
            k.mean = kl.mean();
            k.stderr_mean = kl.stderr_mean();
            k.max = kl_max;
            k.top1_agreement = double(same_top1) / double(kl.n);
            k.base_ppl = std::exp(base_nll.mean());
            k.base_ppl_stderr = ppl_error(base_nll);
            r.kl = k;
        }
        if (on_chunk) on_chunk({c + 1, n_chunks, r.running_ppl.back(), r.kl});
    }
    r.n_scored = nll.n;
    r.ppl = std::exp(nll.mean());
    r.ppl_stderr = ppl_error(nll);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

}  // namespace ember
