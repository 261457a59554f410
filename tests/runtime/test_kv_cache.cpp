// Paged KV cache: block accounting, addressing through the block table, failure atomicity.
#include <doctest/doctest.h>

#include <cstring>
#include <set>
#include <span>
#include <vector>

#include "kernels/half.h"
#include "kernels/quant.h"

#include "runtime/kv_cache.h"

using namespace ember;

TEST_CASE("blocks are allocated on demand and all return to the pool") {
    KvBlockPool pool({2, 2, 4, 16}, 8);
    CHECK(pool.free_blocks() == 8);
    {
        SequenceKv seq(pool);
        seq.reserve(1);
        CHECK(seq.block_table().size() == 1);
        seq.commit(1);
        seq.reserve(15);  // still fits in the first block
        CHECK(seq.block_table().size() == 1);
        seq.commit(15);
        seq.reserve(1);  // token 16 opens block 2
        CHECK(seq.block_table().size() == 2);
        seq.commit(1);
        CHECK(seq.n_tokens() == 17);
        CHECK(pool.free_blocks() == 6);
    }
    CHECK(pool.free_blocks() == 8);  // destructor released everything
}

TEST_CASE("a reservation the pool cannot satisfy throws and changes nothing") {
    KvBlockPool pool({1, 1, 2, 16}, 3);
    SequenceKv a(pool), b(pool);
    a.reserve(40);  // 3 blocks
    a.commit(40);
    CHECK(pool.free_blocks() == 0);
    CHECK_THROWS_AS(b.reserve(1), KvCacheFull);
    CHECK(b.block_table().empty());
    a.clear();
    SequenceKv c(pool);
    c.reserve(20);
    c.commit(20);
    CHECK_THROWS_AS(c.reserve(40), KvCacheFull);  // 60 tokens need 4 blocks, only 3 exist
    CHECK(c.block_table().size() == 2);           // unchanged by the failed call
    CHECK(pool.free_blocks() == 1);
}

TEST_CASE("every (layer, head, position) has its own slot, and views agree with k_row") {
    for (DType type : {DType::F32, DType::F16, DType::Q8}) {
        const KvCacheShape shape{3, 2, 40, 16, type};
        KvBlockPool pool(shape, 10);
        SequenceKv filler(pool), seq(pool);
        filler.reserve(16);  // so seq's blocks are not 0, 1, 2...
        seq.reserve(50);
        std::set<const uint8_t*> slots;
        for (int l = 0; l < shape.n_layers; ++l)
            for (int h = 0; h < shape.n_kv_heads; ++h)
                for (int64_t p = 0; p < 50; ++p) {
                    slots.insert(seq.k_row(l, h, p));
                    slots.insert(seq.v_row(l, h, p));
                    PagedKvHead v = seq.view(l, h);
                    CHECK(v.dtype == type);
                    CHECK(v.row_bytes == kv_row_bytes(shape));
                    const uint8_t* k_via_view = static_cast<const uint8_t*>(v.k) +
                                                v.block_table[p / v.block_tokens] * v.block_stride +
                                                (p % v.block_tokens) * v.row_bytes;
                    CHECK(k_via_view == seq.k_row(l, h, p));
                }
        CHECK(slots.size() == size_t(3 * 2 * 50 * 2));
        // All slots are inside the pool's storage.
        const uint8_t* lo = pool.k_base(0, 0);
        for (const uint8_t* s : slots) {
            CHECK(s >= lo);
            CHECK(s + pool.row_bytes() <= lo + pool.bytes());
        }
    }
}

TEST_CASE("write_kv stores rows in the pool's type") {
    const std::vector<float> k = {0.1f, -2.5f, 3.25f, 1e-3f, 7.0f, -0.33f}, v = {1, 2, 3, 4, 5, 6};
    for (DType type : {DType::F32, DType::F16, DType::Q8}) {
        KvBlockPool pool({1, 1, 6, 16, type}, 2);
        SequenceKv seq(pool);
        seq.reserve(20);
        seq.write_kv(0, 0, 17, k.data(), v.data());
        const uint8_t* row = seq.k_row(0, 0, 17);
        std::vector<float> got(6);
        if (type == DType::F32) {
            std::memcpy(got.data(), row, 24);
            CHECK(got == k);
        } else if (type == DType::F16) {
            for (int d = 0; d < 6; ++d) {
                uint16_t h;
                std::memcpy(&h, row + 2 * d, 2);
                CHECK(h == f32_to_f16(k[size_t(d)]));
            }
        } else {
            std::vector<BlockQ8> want(1);
            quantize_row_q8_ref(k.data(), want.data(), 6);
            CHECK(std::memcmp(row, want.data(), sizeof(BlockQ8)) == 0);
        }
    }
}

TEST_CASE("bytes per token and pool sizing per kv type") {
    // Qwen2.5-0.5B: 24 layers, 2 kv heads, head_dim 64.
    KvCacheShape qwen{24, 2, 64, 16, DType::F32};
    CHECK(kv_bytes_per_token(qwen) == 24 * 2 * 2 * 64 * 4);  // 24576
    qwen.kv_type = DType::F16;
    CHECK(kv_bytes_per_token(qwen) == 12288);
    qwen.kv_type = DType::Q8;
    CHECK(kv_bytes_per_token(qwen) == 24 * 2 * 2 * 34 * 2);  // 6528: two 34-byte blocks per row
    CHECK(kv_block_bytes(qwen) == 16 * 6528);

    CHECK(kv_pool_blocks(qwen, 4096, 1) == 256);
    CHECK(kv_pool_blocks(qwen, 4097, 1) == 257);
    CHECK(kv_pool_blocks(qwen, 100, 3) == 7 * 3);
    CHECK(kv_pool_blocks(qwen, 100, 1, 16 * 6528 * 10 + 5) == 10);  // whole blocks of the budget
    CHECK_THROWS_AS(kv_pool_blocks(qwen, 4096, 1, 1 << 20), std::invalid_argument);  // 160 tokens < 4096

    CHECK(parse_kv_type("f16") == DType::F16);
    CHECK(parse_kv_type("q8") == DType::Q8);
    CHECK_THROWS_AS(parse_kv_type("q4"), std::invalid_argument);
    CHECK_THROWS_AS(KvBlockPool({1, 1, 8, 16, DType::Q4}, 2), std::invalid_argument);
    CHECK_THROWS_AS(KvBlockPool({1, 1, 8, 16, DType::F16}, 0), std::invalid_argument);
}

namespace {

std::vector<int32_t> ids(int64_t n, int32_t first) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[size_t(i)] = first + int32_t(i);
    return v;
}

// What the graph does for a prompt: attach the cached prefix, reserve, (write,) commit.
int64_t run_prompt(SequenceKv& seq, const std::vector<int32_t>& prompt) {
    const int64_t reused = seq.attach_cached_prefix(prompt);
    const std::span<const int32_t> rest(prompt.data() + reused, prompt.size() - size_t(reused));
    seq.reserve(int64_t(rest.size()));
    seq.commit(rest);
    return reused;
}

}  // namespace

TEST_CASE("prefix cache: full blocks are shared by reference count and reads stay on shared blocks") {
    KvBlockPool pool({2, 1, 8, 16, DType::F16}, 10);
    const std::vector<int32_t> history = ids(40, 100);  // 2 full blocks + 8 tokens
    std::vector<int32_t> turn2 = history;
    for (int32_t t : ids(10, 500)) turn2.push_back(t);
    {
        SequenceKv a(pool);
        CHECK(run_prompt(a, history) == 0);  // cold
        CHECK(pool.is_registered(a.block_table()[0]));
        CHECK(pool.is_registered(a.block_table()[1]));
        CHECK_FALSE(pool.is_registered(a.block_table()[2]));  // partial: never registered

        SequenceKv b(pool);
        CHECK(run_prompt(b, turn2) == 32);
        CHECK(b.n_tokens() == 50);
        CHECK(b.block_table()[0] == a.block_table()[0]);
        CHECK(b.block_table()[1] == a.block_table()[1]);
        CHECK(b.block_table()[2] != a.block_table()[2]);  // the tail is b's own
        CHECK(pool.ref_count(a.block_table()[0]) == 2);
        CHECK(pool.ref_count(a.block_table()[2]) == 1);
        CHECK(pool.ref_count(b.block_table()[2]) == 1);
        // b writes only past the shared blocks (write_kv asserts it holds the block alone).
        const std::vector<float> row(8, 1.0f);
        for (int64_t p = 32; p < 50; ++p) b.write_kv(1, 0, p, row.data(), row.data());
        CHECK(pool.free_blocks() == 10 - 3 - 2);
    }
    // Every reference is gone; the registered blocks stay cached, the rest are free.
    for (int32_t blk = 0; blk < pool.n_blocks(); ++blk) CHECK(pool.ref_count(blk) == 0);
    CHECK(pool.free_blocks() == 10);
    CHECK(pool.cached_blocks() == 3);  // history's 2 blocks + turn2's third (tokens 32..47)

    // A later request with the same start attaches the cached blocks again.
    SequenceKv c(pool);
    CHECK(c.attach_cached_prefix(turn2) == 48);
    CHECK(pool.cached_blocks() == 0);
    c.clear();
    CHECK(pool.cached_blocks() == 3);
}

TEST_CASE("prefix cache: the match is on the whole prefix and leaves the last token to compute") {
    KvBlockPool pool({1, 1, 4, 16, DType::F32}, 8);
    SequenceKv a(pool);
    run_prompt(a, ids(48, 0));  // 3 full blocks
    SequenceKv b(pool), c(pool), d(pool);
    CHECK(b.attach_cached_prefix(ids(48, 0)) == 32);  // all 48 cached, but token 47 must run
    CHECK(c.attach_cached_prefix(ids(49, 0)) == 48);
    std::vector<int32_t> other_start = ids(48, 0);
    other_start[0] = 999;  // same blocks 1 and 2, different history
    CHECK(d.attach_cached_prefix(other_start) == 0);
    CHECK_THROWS_AS(c.attach_cached_prefix(ids(49, 0)), std::logic_error);  // not empty
    SequenceKv e(pool);
    CHECK(e.attach_cached_prefix({}) == 0);
    CHECK(e.attach_cached_prefix(ids(1, 0)) == 0);
}

TEST_CASE("prefix cache: least recently released blocks are evicted first when the pool is full") {
    KvBlockPool pool({1, 1, 4, 16, DType::F16}, 4);
    {
        SequenceKv a(pool);
        run_prompt(a, ids(32, 0));  // blocks for tokens 0-15 and 16-31, both registered
    }  // released tail first: the 16-31 block is the least recently released
    CHECK(pool.cached_blocks() == 2);
    CHECK(pool.free_blocks() == 4);
    {
        SequenceKv other(pool);
        run_prompt(other, ids(48, 1000));  // 3 blocks: 2 never used + 1 evicted (16-31)
        CHECK(pool.cached_blocks() == 1);
        CHECK(pool.free_blocks() == 1);
        SequenceKv again(pool);
        CHECK(again.attach_cached_prefix(ids(40, 0)) == 16);  // 0-15 survived, 16-31 did not
        CHECK(pool.free_blocks() == 0);
        SequenceKv full(pool);
        CHECK_THROWS_AS(full.reserve(1), KvCacheFull);  // every block is held
    }
    pool.drop_cache();
    CHECK(pool.cached_blocks() == 0);
    CHECK(pool.free_blocks() == 4);
    SequenceKv cold(pool);
    CHECK(cold.attach_cached_prefix(ids(40, 0)) == 0);
}

TEST_CASE("prefix cache: duplicates and sequences committed without ids") {
    KvBlockPool pool({1, 1, 4, 16, DType::F16}, 8);
    SequenceKv a(pool), b(pool);
    run_prompt(a, ids(16, 0));
    b.reserve(16);  // the same tokens computed again without attaching
    b.commit(ids(16, 0));
    CHECK(pool.is_registered(a.block_table()[0]));
    CHECK_FALSE(pool.is_registered(b.block_table()[0]));  // a holds that prefix already
    a.clear();
    b.clear();
    CHECK(pool.cached_blocks() == 1);

    SequenceKv c(pool);
    c.reserve(32);
    c.commit(32);  // no ids: nothing can be registered
    CHECK_FALSE(pool.is_registered(c.block_table()[0]));
    CHECK_FALSE(pool.is_registered(c.block_table()[1]));
    c.clear();
    CHECK(pool.cached_blocks() == 1);
    CHECK(pool.free_blocks() == 8);
}
