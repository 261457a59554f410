// Sampling order (as llama.cpp's default chain): repetition penalty -> top-k -> softmax
// -> top-p -> min-p -> temperature -> draw. Greedy skips everything but the penalty.
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ember {

Sampler::Sampler(SamplingParams params, int64_t vocab_size)
    : p_(params), rng_(params.seed), ids_(size_t(vocab_size)), probs_(size_t(vocab_size)), seen_(size_t(vocab_size)) {}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
    const int64_t V = int64_t(logits.size());

    // HF RepetitionPenaltyLogitsProcessor: divide positive logits, multiply negative ones,
    // once per distinct token in the window.
    if (p_.repeat_penalty != 1.0f && !history.empty()) {
        size_t n = p_.repeat_last_n < 0 ? history.size() : std::min(history.size(), size_t(p_.repeat_last_n));
        auto window = history.subspan(history.size() - n);
        for (int32_t t : window) seen_[size_t(t)] = 0;
        for (int32_t t : window) {
            if (t < 0 || t >= V || seen_[size_t(t)]) continue;
            seen_[size_t(t)] = 1;
            float& l = logits[size_t(t)];
            l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
        }
    }

    if (p_.temperature <= 0.0f)  // greedy: first maximum, like torch.argmax
        return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());

    // Candidates sorted by logit, truncated to top-k.
    std::iota(ids_.begin(), ids_.end(), 0);
    int64_t n = V;
    auto by_logit = [&](int32_t a, int32_t b) { return logits[size_t(a)] > logits[size_t(b)]; };
    if (p_.top_k > 0 && p_.top_k < V) {
        n = p_.top_k;
        std::partial_sort(ids_.begin(), ids_.begin() + n, ids_.end(), by_logit);
    } else {
        std::sort(ids_.begin(), ids_.end(), by_logit);
    }

    // Softmax over the candidates (at temperature 1, for the p filters).
    const float max_logit = logits[size_t(ids_[0])];
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += probs_[size_t(i)] = std::exp(logits[size_t(ids_[size_t(i)])] - max_logit);
    for (int64_t i = 0; i < n; ++i) probs_[size_t(i)] = float(probs_[size_t(i)] / sum);

    // top-p: the smallest prefix whose mass reaches top_p (at least one token).
    if (p_.top_p < 1.0f) {
        double cum = 0;
        for (int64_t i = 0; i < n; ++i) {
            cum += probs_[size_t(i)];
            if (cum >= p_.top_p) {
                n = i + 1;
                break;
            }
        }
    }
    // min-p: drop tokens less likely than min_p times the most likely one.
    if (p_.min_p > 0.0f) {
        const float floor_p = p_.min_p * probs_[0];
        int64_t keep = 1;
        while (keep < n && probs_[size_t(keep)] >= floor_p) ++keep;
        n = keep;
    }

    // Temperature on the survivors, then draw. The uniform number is built from raw
    // generator bits so the same seed gives the same tokens on every platform.
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double z = (logits[size_t(ids_[size_t(i)])] - max_logit) / p_.temperature;
        total += probs_[size_t(i)] = float(std::exp(z));
    }
    const double u = double(rng_() >> 11) * 0x1.0p-53 * total;
    double acc = 0;
    for (int64_t i = 0; i < n; ++i) {
        acc += probs_[size_t(i)];
        if (u < acc) return ids_[size_t(i)];
    }
    return ids_[size_t(n - 1)];
}

}  // namespace ember
