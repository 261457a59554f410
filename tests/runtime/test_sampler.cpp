// Sampler: greedy, filters, penalty and seeded reproducibility.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "runtime/sampler.h"

using namespace ember;

namespace {
std::vector<float> logits_of(std::initializer_list<float> v) { return std::vector<float>(v); }
}  // namespace

TEST_CASE("temperature 0 is argmax (first maximum on ties)") {
    SamplingParams p;
    p.temperature = 0;
    Sampler s(p, 5);
    auto l = logits_of({0.1f, 2.0f, -1.0f, 2.0f, 1.9f});
    CHECK(s.sample(l, {}) == 1);
}

TEST_CASE("top-k 1 and a tiny top-p both reduce to argmax") {
    for (int variant = 0; variant < 2; ++variant) {
        SamplingParams p;
        p.temperature = 1.5f;
        p.min_p = 0;
        p.top_k = variant == 0 ? 1 : 0;
        p.top_p = variant == 0 ? 1.0f : 1e-6f;
        Sampler s(p, 4);
        for (int i = 0; i < 50; ++i) {
            auto l = logits_of({0.5f, 0.4f, 3.0f, 0.3f});
            CHECK(s.sample(l, {}) == 2);
        }
    }
}

TEST_CASE("min-p removes tokens far below the best one") {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.5f;  // token 1 has probability e^-3 of token 0's: always dropped
    Sampler s(p, 2);
    for (int i = 0; i < 200; ++i) {
        auto l = logits_of({3.0f, 0.0f});
        CHECK(s.sample(l, {}) == 0);
    }
}

TEST_CASE("sampling frequencies follow softmax(logits / T)") {
    SamplingParams p;
    p.temperature = 2.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0;
    Sampler s(p, 3);
    const std::vector<float> base = {1.0f, 0.0f, -1.0f};
    double z = 0, expect[3];
    for (int i = 0; i < 3; ++i) z += expect[i] = std::exp(base[size_t(i)] / 2.0);
    int counts[3] = {};
    const int n = 30000;
    for (int i = 0; i < n; ++i) {
        auto l = base;
        counts[s.sample(l, {})]++;
    }
    for (int i = 0; i < 3; ++i) {
        const double pr = expect[i] / z, sd = std::sqrt(pr * (1 - pr) / n);
        CHECK(std::abs(double(counts[i]) / n - pr) < 5 * sd);  // 5 sigma: fails only if wrong
    }
}

TEST_CASE("the same seed gives the same tokens; another seed differs") {
    auto run = [](uint64_t seed) {
        SamplingParams p;
        p.temperature = 1.0f;
        p.top_k = 0;
        p.top_p = 1.0f;
        p.min_p = 0;
        p.seed = seed;
        Sampler s(p, 16);
        std::vector<int32_t> out;
        for (int i = 0; i < 64; ++i) {
            std::vector<float> l(16, 0.0f);
            out.push_back(s.sample(l, {}));
        }
        return out;
    };
    CHECK(run(7) == run(7));
    CHECK(run(7) != run(8));
}

TEST_CASE("repetition penalty follows HF: divide positive, multiply negative logits") {
    SamplingParams p;
    p.temperature = 0;
    p.repeat_penalty = 2.0f;
    Sampler s(p, 3);
    auto l = logits_of({3.0f, 2.0f, -1.0f});
    std::vector<int32_t> history = {0, 0, 2};
    CHECK(s.sample(l, history) == 1);  // 3 / 2 = 1.5 < 2
    CHECK(l[0] == doctest::Approx(1.5f));  // token 0 appears twice but is penalised once
    CHECK(l[2] == doctest::Approx(-2.0f));
}
