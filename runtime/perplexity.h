// `ember perplexity`: the llama-perplexity method, and KL divergence against a base model.
//
// The token stream is cut into non-overlapping chunks of `ctx` tokens (a tail shorter
// than ctx is dropped). When the model adds BOS, each chunk's first token is replaced by
// BOS, as llama-perplexity does. Every chunk starts from an empty KV cache. Scored are the
// predictions of the second half of each chunk (positions ctx/2 .. ctx-2 predicting the
// next token), so every scored token sees at least ctx/2 tokens of context; with
// score_all, every prediction from position 0 on. PPL = exp(mean NLL), its error the
// standard error of the mean NLL propagated through exp.
//
// The model's KV cache is stored as opts.kv_type (default f32, so PPL measures the weights
// alone); the base model's always as f32, so `--kl-base` of the same file with a smaller
// kv_type measures what KV quantization costs.
//
// With a base model: both run on the same chunks, and at every scored position
// KL(base || model) = sum_v p_base(v) (log p_base(v) - log p_model(v)) is accumulated,
// with the share of positions where both pick the same top-1 token.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/model.h"

namespace ember {

struct PerplexityOptions {
    int64_t ctx = 512;       // tokens per chunk
    int64_t max_chunks = 0;  // 0: every full chunk of the text
    bool score_all = false;  // score all predictions of a chunk, not only its second half
    DType kv_type = DType::F32;  // the model's KV storage (f32, f16, q8); the base's is f32
};

struct KlStats {
    double mean = 0, stderr_mean = 0, max = 0;
    double top1_agreement = 0;  // fraction of scored positions, 0..1
    double base_ppl = 0, base_ppl_stderr = 0;
};

// Reported after each chunk (running values over chunks 1..chunk).
struct PerplexityProgress {
    int64_t chunk = 0, n_chunks = 0;
    double ppl = 0;
    std::optional<KlStats> kl;
};

struct PerplexityResult {
    int64_t n_tokens = 0;  // tokens in the input stream
    int64_t n_chunks = 0;
    int64_t n_ctx = 0;
    int64_t n_scored = 0;  // predictions scored
    double ppl = 0, ppl_stderr = 0;
    std::vector<double> running_ppl;  // after each chunk
    std::optional<KlStats> kl;        // with a base model
    double seconds = 0;
};

// Throws std::invalid_argument when the stream is shorter than one chunk or a token or
// the base model's vocabulary does not match.
PerplexityResult compute_perplexity(const Model& model, const Model* base, std::span<const int32_t> tokens,
                                    const PerplexityOptions& opts,
                                    const std::function<void(const PerplexityProgress&)>& on_chunk = {});

// Ids separated by commas and/or whitespace ("1, 2 3\n4"); throws std::invalid_argument
// naming the first item that is not a non-negative integer.
std::vector<int32_t> parse_token_list(const std::string& text);

}  // namespace ember
