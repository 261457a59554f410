// Next-token selection from logits: greedy, or temperature sampling with top-k, top-p,
// min-p and a repetition penalty, reproducible from a seed.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace ember {

struct SamplingParams {
    float temperature = 0.8f;     // <= 0: greedy (argmax)
    int top_k = 40;               // <= 0: off
    float top_p = 0.95f;          // >= 1: off
    float min_p = 0.05f;          // <= 0: off
    float repeat_penalty = 1.0f;  // 1: off (HF repetition_penalty semantics)
    int repeat_last_n = 64;       // tokens looked back for the penalty; -1: whole history
    uint64_t seed = 0xE5B3;       // same seed + same logits -> same tokens
};

class Sampler {
public:
    Sampler(SamplingParams params, int64_t vocab_size);

    // Picks the next token. `logits` [vocab] is modified (penalty applied in place);
    // `history`: the tokens so far (prompt + generated), for the repetition penalty.
    int32_t sample(std::span<float> logits, std::span<const int32_t> history);

    const SamplingParams& params() const { return p_; }

private:
    SamplingParams p_;
    std::mt19937_64 rng_;
    // Scratch [vocab], allocated once: candidate ids and their probabilities.
    std::vector<int32_t> ids_;
    std::vector<float> probs_;
    std::vector<uint8_t> seen_;
};

}  // namespace ember
