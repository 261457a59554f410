// The continuous-batching engine: N requests run together produce exactly the tokens each
// produces alone through generate() (greedy and seeded sampling, mixed lengths, stop
// tokens, chunked prefill); cancellation frees every block; a pool too small for all
// requests preempts and recomputes, and every request still completes with the same tokens.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>

#include "engine_test_util.h"
#include "runtime/engine.h"
#include "runtime/generate.h"

using namespace ember;
using namespace ember::test;

namespace {

// What generate() (the single-sequence loop of `ember run`) produces for `r` on its own.
std::vector<int32_t> run_alone(const Model& m, const Request& r) {
    const ModelConfig& c = m.config();
    KvBlockPool pool({int(c.n_layers), int(c.n_kv_heads), int(c.head_dim), 16}, 32);
    SequenceKv seq(pool);
    LlamaGraph graph(m, 256);
    GenerateOptions o;
    o.max_new_tokens = r.max_new_tokens;
    o.stop_at_eos = r.stop_at_eos;
    o.sampling = r.sampling;
    std::vector<int32_t> out;
    generate(m, graph, seq, r.prompt, o, [&](int32_t t) {
        out.push_back(t);
        return std::find(r.stop_tokens.begin(), r.stop_tokens.end(), t) == r.stop_tokens.end();
    });
    return out;
}

SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0;
    return p;
}

SamplingParams seeded(uint64_t seed, bool penalty) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = 50;
    p.top_p = 0.97f;
    p.min_p = 0.01f;
    p.repeat_penalty = penalty ? 1.3f : 1.0f;
    p.seed = seed;
    return p;
}

// n requests with prompt lengths in [1, 45], max_new_tokens in [1, 24]; every third one
// stops on a token its own solo run generates (so stop tokens really end some early).
std::vector<Request> mixed_requests(const Model& m, int n, bool sampled, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<Request> reqs;
    for (int i = 0; i < n; ++i) {
        Request r;
        r.prompt = random_tokens(size_t(1 + rng() % 45), seed * 100 + uint64_t(i));
        r.max_new_tokens = int64_t(1 + rng() % 24);
        r.sampling = sampled ? seeded(seed + uint64_t(i), i % 2 == 0) : greedy();
        if (i % 3 == 2 && r.max_new_tokens > 4) {
            const auto solo = run_alone(m, r);
            if (solo.size() > 3) r.stop_tokens = {solo[3], 299};
        }
        reqs.push_back(r);
    }
    return reqs;
}

struct Outcome {
    std::map<RequestId, std::vector<int32_t>> streamed;
    std::map<RequestId, RequestResult> results;
    int max_batch_decodes = 0, steps = 0, preemptions = 0;
    int64_t max_step_tokens = 0;
};

// Submits everything, runs the engine to the end, collects streams and results.
Outcome run_together(Engine& engine, std::vector<Request> reqs, std::vector<RequestId>& ids) {
    Outcome o;
    ids.clear();
    for (auto& r : reqs) {
        r.on_token = [&o](RequestId id, int32_t t) {
            o.streamed[id].push_back(t);
            return true;
        };
        ids.push_back(engine.submit(r));
    }
    while (!engine.idle()) {
        const StepStats st = engine.step();
        ++o.steps;
        o.max_batch_decodes = std::max(o.max_batch_decodes, int(st.decode_tokens));
        o.max_step_tokens = std::max(o.max_step_tokens, st.decode_tokens + st.prefill_tokens);
        o.preemptions += st.n_preempted;
        REQUIRE(o.steps < 10000);
    }
    for (RequestId id : ids) {
        auto r = engine.take_result(id);
        REQUIRE(r.has_value());
        o.results[id] = *r;
    }
    return o;
}

void check_same_as_alone(const Model& m, const std::vector<Request>& reqs, const std::vector<RequestId>& ids,
                         Outcome& o) {
    for (size_t i = 0; i < reqs.size(); ++i) {
        CAPTURE(i);
        const RequestResult& r = o.results[ids[i]];
        const auto solo = run_alone(m, reqs[i]);
        CHECK(r.tokens == solo);
        CHECK(o.streamed[ids[i]] == r.tokens);
        CHECK(r.n_prompt == int64_t(reqs[i].prompt.size()));
        const bool stopped = !r.tokens.empty() && std::find(reqs[i].stop_tokens.begin(), reqs[i].stop_tokens.end(),
                                                            r.tokens.back()) != reqs[i].stop_tokens.end();
        if (r.reason == FinishReason::kMaxTokens) CHECK(int64_t(r.tokens.size()) == reqs[i].max_new_tokens);
        if (r.reason == FinishReason::kStopToken) CHECK(stopped);
        if (r.reason == FinishReason::kEos) CHECK(m.is_eos(r.tokens.back()));
        CHECK(r.reason != FinishReason::kCancelled);
    }
}

EngineOptions small_options() {
    EngineOptions o;
    o.max_context = 128;
    o.kv_blocks = 160;
    o.step_tokens = 40;  // < the sum of the prompts: chunked prefill across steps
    o.max_running = 16;
    o.kv_type = DType::F32;  // run_alone's pool is f32: exact comparisons
    return o;
}

}  // namespace

TEST_CASE("N requests run together give each request the tokens it gets alone") {
    auto model = tiny_engine_model();
    for (bool sampled : {false, true}) {
        for (int n : {1, 4, 16}) {
            CAPTURE(sampled);
            CAPTURE(n);
            const auto reqs = mixed_requests(*model, n, sampled, uint64_t(n) * 10 + sampled);
            Engine engine(*model, small_options());
            std::vector<RequestId> ids;
            Outcome o = run_together(engine, reqs, ids);
            check_same_as_alone(*model, reqs, ids, o);
            CHECK(engine.pool().free_blocks() == engine.pool().n_blocks());
            CHECK(o.max_step_tokens <= 40);
            CHECK(o.preemptions == 0);
            if (n == 16) CHECK(o.max_batch_decodes >= 8);  // decodes really ran batched
        }
    }
}

TEST_CASE("requests produce the same tokens whatever the step budget and running limit") {
    auto model = tiny_engine_model(3);
    const auto reqs = mixed_requests(*model, 10, true, 77);
    std::vector<std::vector<int32_t>> first;
    for (auto [budget, running] : {std::pair<int64_t, int64_t>{256, 16}, {16, 16}, {8, 3}, {1, 1}}) {
        CAPTURE(budget);
        EngineOptions opts = small_options();
        opts.step_tokens = budget;
        opts.max_running = running;
        Engine engine(*model, opts);
        std::vector<RequestId> ids;
        Outcome o = run_together(engine, reqs, ids);
        std::vector<std::vector<int32_t>> outs;
        for (RequestId id : ids) outs.push_back(o.results[id].tokens);
        if (first.empty())
            first = outs;
        else
            CHECK(outs == first);
        CHECK(o.max_step_tokens <= budget);
    }
}

TEST_CASE("cancellation mid-stream returns every block to the pool at once") {
    auto model = tiny_engine_model();
    EngineOptions opts = small_options();
    opts.max_running = 4;
    Engine engine(*model, opts);
    const int32_t n_blocks = engine.pool().n_blocks();
    std::vector<Request> reqs;
    for (int i = 0; i < 7; ++i) {
        Request r;
        r.prompt = random_tokens(size_t(10 + 7 * i), uint64_t(i));
        r.max_new_tokens = 30;
        r.sampling = seeded(uint64_t(i), false);
        r.stop_at_eos = false;
        reqs.push_back(r);
    }
    std::map<RequestId, std::vector<int32_t>> streamed;
    std::vector<RequestId> ids;
    for (size_t i = 0; i < reqs.size(); ++i) {
        Request r = reqs[i];
        const bool self_cancel = i == 1;  // its callback says stop after 5 tokens
        r.on_token = [&streamed, self_cancel](RequestId id, int32_t t) {
            streamed[id].push_back(t);
            return !(self_cancel && streamed[id].size() == 5);
        };
        ids.push_back(engine.submit(r));
    }
    for (int s = 0; s < 3; ++s) engine.step();  // 4 admitted, none has 5 tokens yet
    REQUIRE(engine.n_running() == 4);
    REQUIRE(engine.n_waiting() == 3);
    REQUIRE(streamed[ids[0]].size() >= 2);

    // Cancel a running request: its blocks come back immediately.
    const int32_t free_before = engine.pool().free_blocks();
    CHECK(engine.cancel(ids[0]));
    CHECK(engine.pool().free_blocks() > free_before);
    CHECK(engine.n_running() == 3);
    CHECK_FALSE(engine.cancel(ids[0]));  // already finished
    // Cancel a waiting request.
    CHECK(engine.cancel(ids[6]));
    CHECK(engine.n_waiting() == 2);
    CHECK_FALSE(engine.cancel(12345));

    engine.run_until_idle();
    CHECK(engine.pool().free_blocks() == n_blocks);
    for (size_t i = 0; i < reqs.size(); ++i) {
        CAPTURE(i);
        auto r = engine.take_result(ids[i]);
        REQUIRE(r.has_value());
        const auto solo = run_alone(*model, reqs[i]);
        CHECK(r->tokens == streamed[ids[i]]);
        if (i == 0 || i == 1 || i == 6) {
            CHECK(r->reason == FinishReason::kCancelled);
            CHECK(std::equal(r->tokens.begin(), r->tokens.end(), solo.begin()));  // a prefix of the solo run
        } else {
            CHECK(r->reason == FinishReason::kMaxTokens);
            CHECK(r->tokens == solo);
        }
    }
    CHECK(streamed[ids[1]].size() == 5);
    CHECK(streamed[ids[6]].empty());
    CHECK_FALSE(engine.take_result(ids[0]).has_value());  // taken already
}

TEST_CASE("a pool too small for every request at once preempts, recomputes, and completes them all") {
    auto model = tiny_engine_model(5);
    for (bool sampled : {false, true}) {
        CAPTURE(sampled);
        std::vector<Request> reqs;
        for (int i = 0; i < 12; ++i) {
            Request r;
            r.prompt = random_tokens(size_t(12 + 5 * i % 30), 500 + uint64_t(i));
            r.max_new_tokens = 20 + i % 3 * 6;
            r.sampling = sampled ? seeded(900 + uint64_t(i), i % 2 == 1) : greedy();
            r.stop_at_eos = i % 4 != 0;
            reqs.push_back(r);
        }
        EngineOptions opts = small_options();
        opts.kv_blocks = 9;  // 144 tokens; one request needs up to 4 blocks
        opts.step_tokens = 64;
        Engine engine(*model, opts);
        std::vector<RequestId> ids;
        Outcome o = run_together(engine, reqs, ids);
        CHECK(o.preemptions > 0);
        int recomputed = 0;
        for (auto& [id, r] : o.results) recomputed += r.n_preemptions > 0;
        CHECK(recomputed > 0);
        MESSAGE("sampled " << sampled << ": " << o.preemptions << " preemptions over " << o.steps << " steps");
        check_same_as_alone(*model, reqs, ids, o);
        CHECK(engine.pool().free_blocks() == engine.pool().n_blocks());
    }
}

TEST_CASE("on_finish receives the result; submit rejects bad requests with clear errors") {
    auto model = tiny_engine_model();
    EngineOptions opts = small_options();
    opts.kv_blocks = 4;  // 64 tokens
    Engine engine(*model, opts);
    Request ok;
    ok.prompt = {5, 6, 7};
    ok.max_new_tokens = 3;
    ok.sampling = greedy();

    Request r = ok;
    r.prompt.clear();
    CHECK_THROWS_WITH_AS(engine.submit(r), doctest::Contains("empty prompt"), std::invalid_argument);
    r = ok;
    r.prompt = {5, -1};
    CHECK_THROWS_WITH_AS(engine.submit(r), doctest::Contains("token id -1 is outside the vocabulary"),
                         std::invalid_argument);
    r = ok;
    r.max_new_tokens = 0;
    CHECK_THROWS_WITH_AS(engine.submit(r), doctest::Contains("max_new_tokens must be at least 1"),
                         std::invalid_argument);
    r = ok;
    r.max_new_tokens = 127;  // 3 + 127 - 1 = 129 positions > 128
    CHECK_THROWS_WITH_AS(engine.submit(r), doctest::Contains("exceed the context size 128"), ContextOverflow);
    r = ok;
    r.max_new_tokens = 80;  // fits the context, not the 4-block pool
    CHECK_THROWS_WITH_AS(engine.submit(r), doctest::Contains("KV blocks but the pool has only 4"),
                         std::invalid_argument);
    CHECK(engine.idle());

    std::vector<RequestResult> seen;
    r = ok;
    r.on_finish = [&](const RequestResult& res) { seen.push_back(res); };
    const RequestId id = engine.submit(r);
    engine.run_until_idle();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].id == id);
    CHECK(seen[0].tokens == run_alone(*model, ok));
    CHECK(std::string(finish_reason_name(seen[0].reason)) == "length");
    CHECK_FALSE(engine.take_result(id).has_value());  // delivered to on_finish, not kept

    EngineOptions bad = small_options();
    bad.max_running = 50;
    bad.step_tokens = 40;
    CHECK_THROWS_WITH_AS(Engine(*model, bad), doctest::Contains("max_running must be between 1 and step_tokens"),
                         std::invalid_argument);
    bad = small_options();
    bad.max_context = 4096;
    CHECK_THROWS_WITH_AS(Engine(*model, bad), doctest::Contains("exceeds the model's maximum"),
                         std::invalid_argument);
}

TEST_CASE("a request repeating an earlier prompt's prefix attaches its cached blocks and gets the same tokens") {
    auto model = tiny_engine_model();
    for (DType kv : {DType::F32, DType::F16}) {
        CAPTURE(dtype_name(kv));
        const std::vector<int32_t> shared = random_tokens(40, 77);  // 2 full blocks of 16 + 8
        Request a;
        a.prompt = shared;
        a.max_new_tokens = 6;
        a.sampling = greedy();
        Request b = a;
        const std::vector<int32_t> tail = random_tokens(10, 78);
        b.prompt.insert(b.prompt.end(), tail.begin(), tail.end());

        // With the prefix cache, and without it (recomputing everything): same tokens.
        std::vector<int32_t> outputs[2];
        for (int cache = 0; cache < 2; ++cache) {
            EngineOptions opts = small_options();
            opts.kv_type = kv;
            opts.prefix_cache = cache == 1;
            Engine engine(*model, opts);
            const RequestId ia = engine.submit(a);
            engine.run_until_idle();
            const RequestId ib = engine.submit(b);
            int64_t cached = 0;
            while (!engine.idle()) cached += engine.step().cached_tokens;
            CHECK(cached == (cache == 1 ? 32 : 0));  // A's two full prompt blocks
            CHECK(engine.take_result(ia).has_value());
            auto rb = engine.take_result(ib);
            REQUIRE(rb.has_value());
            outputs[cache] = rb->tokens;
            CHECK(engine.pool().free_blocks() == engine.pool().n_blocks());  // every reference returned
        }
        CHECK(outputs[0] == outputs[1]);
        if (kv == DType::F32) CHECK(outputs[1] == run_alone(*model, b));
    }
}
