// LlamaGraph::forward_batch against forward() on each sequence alone: prefill chunks that
// straddle steps, then batched decode; bit for bit on the scalar table, to rounding on
// the SIMD tables (whose one-token matvec and batched tiles sum blocks in other orders).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "engine_test_util.h"
#include "runtime/kv_cache.h"
#include "runtime/llama_graph.h"

using namespace ember;
using namespace ember::test;

namespace {

struct Compare {
    double max_abs_diff = 0, max_abs_logit = 0;
    bool identical = true;
    void add(const std::vector<float>& a, const std::vector<float>& b) {
        REQUIRE(a.size() == b.size());
        identical = identical && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
        for (size_t i = 0; i < a.size(); ++i) {
            max_abs_diff = std::max(max_abs_diff, double(std::fabs(a[i] - b[i])));
            max_abs_logit = std::max(max_abs_logit, double(std::fabs(a[i])));
        }
    }
    void check() const {
        MESSAGE("isa " << std::string(kernels().isa_name) << ": batched vs alone logits "
                       << std::string(identical ? "bit-identical" : "differ") << ", max |diff| " << max_abs_diff
                       << " (max |logit| " << max_abs_logit << ")");
        if (exact_kernels()) CHECK(identical);
        CHECK(max_abs_diff <= 2e-3 * max_abs_logit);
    }
};

KvBlockPool make_pool(const Model& m, int32_t blocks) {
    const ModelConfig& c = m.config();
    return KvBlockPool({int(c.n_layers), int(c.n_kv_heads), int(c.head_dim), 16}, blocks);
}

}  // namespace

TEST_CASE("forward_batch gives each sequence the logits forward() gives it alone") {
    auto model = tiny_engine_model();
    const int64_t V = model->config().vocab_size;
    const std::vector<size_t> prompt_len = {1, 5, 17, 33, 2, 40, 16};
    const size_t N = prompt_len.size();
    const int decode_steps = 5;
    std::vector<std::vector<int32_t>> prompts, decode_tokens;
    for (size_t i = 0; i < N; ++i) {
        prompts.push_back(random_tokens(prompt_len[i], 100 + i));
        decode_tokens.push_back(random_tokens(size_t(decode_steps), 200 + i));
    }

    // Alone: one sequence at a time, prompt in one forward, then one token per forward.
    std::vector<std::vector<std::vector<float>>> alone(N);  // [seq][step][vocab]
    {
        KvBlockPool pool = make_pool(*model, 64);
        LlamaGraph graph(*model, 128, 256);
        for (size_t i = 0; i < N; ++i) {
            SequenceKv seq(pool);
            std::vector<float> logits(static_cast<size_t>(V));
            graph.forward(prompts[i], seq, logits.data());
            alone[i].push_back(logits);
            for (int s = 0; s < decode_steps; ++s) {
                graph.forward(std::span<const int32_t>(&decode_tokens[i][size_t(s)], 1), seq, logits.data());
                alone[i].push_back(logits);
            }
        }
    }

    // Together: max_batch 24 < the 114 prompt tokens, so prompts straddle steps; a pool
    // shared by all sequences, with a filler so block numbers are not in order.
    KvBlockPool pool = make_pool(*model, 64);
    SequenceKv filler(pool);
    filler.reserve(20);
    LlamaGraph graph(*model, 128, 24);
    std::vector<std::unique_ptr<SequenceKv>> seqs;
    std::vector<std::vector<float>> logits(N, std::vector<float>(static_cast<size_t>(V)));
    std::vector<BatchItem> items;
    for (size_t i = 0; i < N; ++i) {
        seqs.push_back(std::make_unique<SequenceKv>(pool));
        items.push_back({seqs[i].get(), prompts[i], logits[i].data()});
    }
    graph.forward_batch(items);
    Compare cmp;
    for (size_t i = 0; i < N; ++i) {
        CHECK(seqs[i]->n_tokens() == int64_t(prompt_len[i]));
        cmp.add(alone[i][0], logits[i]);
    }
    for (int s = 0; s < decode_steps; ++s) {
        for (size_t i = 0; i < N; ++i)
            items[i].tokens = std::span<const int32_t>(&decode_tokens[i][size_t(s)], 1);
        // Reverse order on odd steps: a sequence's row in the batch must not matter.
        if (s % 2) std::reverse(items.begin(), items.end());
        graph.forward_batch(items);
        if (s % 2) std::reverse(items.begin(), items.end());
        for (size_t i = 0; i < N; ++i) cmp.add(alone[i][size_t(s) + 1], logits[i]);
    }
    cmp.check();
}

TEST_CASE("forward_batch mixes decode and prefill items, and items without logits") {
    auto model = tiny_engine_model(11);
    const int64_t V = model->config().vocab_size;
    const auto a_prompt = random_tokens(9, 1), b_prompt = random_tokens(30, 2);
    const int32_t a_next = 42;

    std::vector<float> a_alone(static_cast<size_t>(V)), b_alone(static_cast<size_t>(V));
    {
        KvBlockPool pool = make_pool(*model, 16);
        LlamaGraph graph(*model, 64);
        SequenceKv a(pool), b(pool);
        graph.forward(a_prompt, a, a_alone.data());
        graph.forward(std::span<const int32_t>(&a_next, 1), a, a_alone.data());
        graph.forward(b_prompt, b, b_alone.data());
    }
    KvBlockPool pool = make_pool(*model, 16);
    LlamaGraph graph(*model, 64);
    SequenceKv a(pool), b(pool);
    std::vector<float> a_logits(static_cast<size_t>(V)), b_logits(static_cast<size_t>(V));
    graph.forward_batch(std::vector<BatchItem>{{&a, a_prompt, nullptr}});  // prompt, no logits wanted
    // a decodes while b's prompt is prefilled in two chunks, the first without logits.
    const std::span<const int32_t> b_span(b_prompt);
    graph.forward_batch(std::vector<BatchItem>{{&a, std::span<const int32_t>(&a_next, 1), a_logits.data()},
                                               {&b, b_span.first(13), nullptr}});
    graph.forward_batch(std::vector<BatchItem>{{&b, b_span.subspan(13), b_logits.data()}});
    Compare cmp;
    cmp.add(a_alone, a_logits);
    cmp.add(b_alone, b_logits);
    cmp.check();
}

TEST_CASE("forward_batch rejects bad batches before touching any sequence") {
    auto model = tiny_engine_model();
    KvBlockPool pool = make_pool(*model, 8);
    LlamaGraph graph(*model, 32);
    SequenceKv a(pool), b(pool);
    const std::vector<int32_t> ok = {5, 6, 7}, bad = {5, 300}, long_prompt = random_tokens(30, 3);
    std::vector<float> logits(300);
    auto unchanged = [&] {
        CHECK(a.n_tokens() == 0);
        CHECK(b.n_tokens() == 0);
        CHECK(a.block_table().empty());
        CHECK(b.block_table().empty());
    };
    CHECK_THROWS_WITH_AS(graph.forward_batch(std::vector<BatchItem>{{&a, ok, nullptr}, {nullptr, ok, nullptr}}),
                         doctest::Contains("batch item 1 has no sequence"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(graph.forward_batch(std::vector<BatchItem>{{&a, {}, nullptr}}),
                         doctest::Contains("has no tokens"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(graph.forward_batch(std::vector<BatchItem>{{&a, ok, nullptr}, {&b, bad, nullptr}}),
                         doctest::Contains("token id 300 is outside the vocabulary"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(graph.forward_batch(std::vector<BatchItem>{{&a, ok, nullptr}, {&a, ok, nullptr}}),
                         doctest::Contains("repeats the sequence of batch item 0"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(
        graph.forward_batch(std::vector<BatchItem>{{&a, ok, nullptr}, {&b, long_prompt, nullptr}, {&b, ok, nullptr}}),
        doctest::Contains("repeats"), std::invalid_argument);
    std::vector<int32_t> too_long = random_tokens(33, 4);
    CHECK_THROWS_AS(graph.forward_batch(std::vector<BatchItem>{{&a, ok, nullptr}, {&b, too_long, nullptr}}),
                    ContextOverflow);
    unchanged();
    // 7 of the 8 blocks taken: 30 tokens need 2.
    SequenceKv hog(pool);
    hog.reserve(16 * 7);
    CHECK_THROWS_AS(graph.forward_batch(std::vector<BatchItem>{{&a, long_prompt, logits.data()}}), KvCacheFull);
    CHECK(a.n_tokens() == 0);
}
