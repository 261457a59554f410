// Paged KV cache: block accounting, addressing through the block table, failure atomicity.
#include <doctest/doctest.h>

#include <set>

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

TEST_CASE("every (layer, head, position) has its own slot, and views agree with k_at") {
    const KvCacheShape shape{3, 2, 4, 16};
    KvBlockPool pool(shape, 10);
    SequenceKv filler(pool), seq(pool);
    filler.reserve(16);  // so seq's blocks are not 0, 1, 2...
    seq.reserve(50);
    std::set<const float*> slots;
    for (int l = 0; l < shape.n_layers; ++l)
        for (int h = 0; h < shape.n_kv_heads; ++h)
            for (int64_t p = 0; p < 50; ++p) {
                slots.insert(seq.k_at(l, h, p));
                slots.insert(seq.v_at(l, h, p));
                PagedKvHead v = seq.view(l, h);
                const float* k_via_view =
                    v.k + v.block_table[p / v.block_tokens] * v.block_stride + (p % v.block_tokens) * shape.head_dim;
                CHECK(k_via_view == seq.k_at(l, h, p));
            }
    CHECK(slots.size() == size_t(3 * 2 * 50 * 2));
    // All slots are inside the pool's storage.
    const float* lo = pool.k_base(0, 0);
    for (const float* s : slots) {
        CHECK(s >= lo);
        CHECK(s + shape.head_dim <= lo + pool.block_stride() * pool.n_blocks());
    }
}
