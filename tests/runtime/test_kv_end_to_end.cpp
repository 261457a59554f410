// The KV cache under the real graph (a small random-weight model): f16 / q8 KV logits
// within stated bounds of f32 KV, and prefix-cache reuse giving the logits of a full
// recomputation while computing only the tokens after the cached blocks.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "runtime/kv_cache.h"
#include "runtime/llama_graph.h"
#include "runtime/model.h"
#include "tests/tiny_qwen2_config.h"

using namespace ember;

namespace {

// The shared tiny Qwen2 config, at head_dim 64 (the Qwen2.5-0.5B head size) and longer.
ModelConfig small_config() {
    ModelConfig c = test::tiny_qwen2_config(2048);
    c.vocab_size = 512;
    c.hidden_size = 256;
    c.intermediate_size = 512;
    c.n_layers = 2;
    c.head_dim = 64;
    c.rope_theta = 1000000.0;
    return c;
}

// f32 weights: every kernel table keeps f32 activations, so the KV type is the only
// rounding that differs (with q8 weights the fast tables quantize activations to int8, and
// a KV difference can flip one activation's rounding, an error of ~absmax/254 by itself).
const Model& f32_model() {
    static const std::unique_ptr<Model> m = Model::synthetic(small_config(), DType::F32, DType::F32, 42);
    return *m;
}
const Model& q8_model() {
    static const std::unique_ptr<Model> m = Model::synthetic(small_config(), DType::Q8, DType::Q8, 42);
    return *m;
}

std::vector<int32_t> random_tokens(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int32_t> d(3, 511);
    std::vector<int32_t> v(n);
    for (auto& t : v) t = d(rng);
    return v;
}

KvCacheShape shape_of(const Model& m, DType kv_type) {
    const ModelConfig& c = m.config();
    return {int(c.n_layers), int(c.n_kv_heads), int(c.head_dim), 16, kv_type};
}

// Last-position logits of `prompt` run in one go on a fresh pool.
std::vector<float> fresh_logits(const Model& m, DType kv_type, const std::vector<int32_t>& prompt) {
    KvBlockPool pool(shape_of(m, kv_type), kv_pool_blocks(shape_of(m, kv_type), 1200, 1));
    SequenceKv seq(pool);
    LlamaGraph graph(m, 1200);
    std::vector<float> logits(size_t(m.config().vocab_size));
    graph.forward(prompt, seq, logits.data());
    return logits;
}

double max_abs(const std::vector<float>& v) {
    double m = 0;
    for (float x : v) m = std::max(m, double(std::fabs(x)));
    return m;
}

}  // namespace

TEST_CASE("f16 and q8 KV logits stay within stated bounds of f32 KV logits") {
    // Bound: max |logit - f32-KV logit| / max |f32-KV logit|. f16 rounds each K/V element
    // by <= 2^-11 relative, q8 by <= scale/2 = absmax/254 per 32 values; both errors pass
    // through softmax and two layers. Measured on this f32-weight model (300-token prompt):
    // f16 7.3e-5, q8 2.1e-3 (generic and AVX2 alike); the bounds keep >= 7x headroom.
    const Model& m = f32_model();
    const std::vector<int32_t> prompt = random_tokens(300, 7);
    const std::vector<float> ref = fresh_logits(m, DType::F32, prompt);
    const double scale = max_abs(ref);
    REQUIRE(scale > 0);
    for (auto [type, bound] : {std::pair{DType::F16, 1e-3}, std::pair{DType::Q8, 1.5e-2}}) {
        const std::vector<float> got = fresh_logits(m, type, prompt);
        double worst = 0;
        for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - ref[i]));
        MESSAGE("kv " << dtype_name(type) << ": max |logit error| / max |logit| = " << worst / scale);
        CHECK(worst / scale <= bound);
        CHECK(worst > 0);  // the kv type is really in use
    }
}

TEST_CASE("a second chat turn reuses the 1000-token history and gives the logits of a full recomputation") {
    const std::vector<int32_t> history = random_tokens(1000, 11);
    std::vector<int32_t> turn2 = history;
    for (int32_t t : random_tokens(40, 12)) turn2.push_back(t);
    for (auto [mp, type] : {std::pair{&q8_model, DType::F32}, std::pair{&q8_model, DType::F16},
                            std::pair{&f32_model, DType::F16}}) {
        const Model& m = mp();
        const KvCacheShape shape = shape_of(m, type);
        KvBlockPool pool(shape, kv_pool_blocks(shape, 1200, 2));
        LlamaGraph graph(m, 1200);
        std::vector<float> logits(size_t(m.config().vocab_size));
        {
            SequenceKv turn1(pool);
            CHECK(turn1.attach_cached_prefix(history) == 0);  // cold cache
            graph.forward(history, turn1, logits.data());
        }  // the first request ends; its 62 full blocks stay cached
        CHECK(pool.cached_blocks() == 1000 / 16);
        {
            SequenceKv seq(pool);
            const int64_t reused = seq.attach_cached_prefix(turn2);
            CHECK(reused == 992);  // every full block of the history; 8 + 40 tokens left to compute
            const std::span<const int32_t> rest(turn2.data() + reused, turn2.size() - size_t(reused));
            CHECK(rest.size() == 48);
            graph.forward(rest, seq, logits.data());
            CHECK(seq.n_tokens() == int64_t(turn2.size()));

            const std::vector<float> full = fresh_logits(m, type, turn2);
            size_t differ = 0;
            for (size_t i = 0; i < logits.size(); ++i) differ += logits[i] != full[i];
            CHECK_MESSAGE(differ == 0, "kv " << dtype_name(type) << ": " << differ << " logits differ from recomputation");
        }
        // Every reference is gone again; blocks are free or cached.
        for (int32_t b = 0; b < pool.n_blocks(); ++b) CHECK(pool.ref_count(b) == 0);
        CHECK(pool.free_blocks() == pool.n_blocks());
        CHECK(pool.cached_blocks() == 1040 / 16);
    }
}

TEST_CASE("two live sequences share a system prompt and decode independently") {
    const Model& m = q8_model();
    const std::vector<int32_t> system = random_tokens(64, 21);
    const KvCacheShape shape = shape_of(m, DType::F16);
    KvBlockPool pool(shape, kv_pool_blocks(shape, 200, 2));
    LlamaGraph graph(m, 200);
    std::vector<float> la(size_t(m.config().vocab_size)), lb = la;
    SequenceKv a(pool), b(pool);
    std::vector<int32_t> pa = system, pb = system;
    pa.push_back(5);
    pb.push_back(6);
    graph.forward(pa, a, la.data());
    const int64_t reused = b.attach_cached_prefix(pb);
    CHECK(reused == 64);
    for (int i = 0; i < 4; ++i) CHECK(pool.ref_count(a.block_table()[size_t(i)]) == 2);
    graph.forward(std::span<const int32_t>(pb).subspan(size_t(reused)), b, lb.data());
    // Decode a few tokens on each; b's results must equal b computed alone.
    for (int32_t t : {7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}) {
        graph.forward(std::span<const int32_t>(&t, 1), a, la.data());
        graph.forward(std::span<const int32_t>(&t, 1), b, lb.data());
        pb.push_back(t);
    }
    CHECK(lb == fresh_logits(m, DType::F16, pb));
}
