// Paged KV cache: one pool of fixed-size blocks shared by all sequences, and a block
// table per sequence mapping its token positions to pool blocks (docs/architecture.md).
//
// Pool layout (f32):  blocks[n_blocks][n_layers][2 (K, V)][n_kv_heads][block_tokens][head_dim]
// so the K (or V) rows of one (layer, kv_head) inside a block are contiguous, and the
// same slot in the next block is block_stride() floats further on.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "kernels/kernels.h"

namespace ember {

struct KvCacheShape {
    int n_layers = 0;
    int n_kv_heads = 0;
    int head_dim = 0;
    int block_tokens = 16;  // tokens per block
};

struct KvCacheFull : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class KvBlockPool {
public:
    // Allocates all n_blocks up front (the decode loop never allocates).
    KvBlockPool(KvCacheShape shape, int32_t n_blocks);

    const KvCacheShape& shape() const { return shape_; }
    int32_t n_blocks() const { return n_blocks_; }
    int32_t free_blocks() const { return int32_t(free_list_.size()); }
    int64_t block_stride() const { return block_stride_; }  // floats per block
    int64_t bytes() const { return int64_t(storage_.size() * sizeof(float)); }

    // Takes a free block; throws KvCacheFull when none is left.
    int32_t allocate();
    void release(int32_t block);

    // Start of K (or V) of (layer, kv_head) in block 0; add block * block_stride().
    float* k_base(int layer, int kv_head) { return storage_.data() + slot_offset(layer, 0, kv_head); }
    float* v_base(int layer, int kv_head) { return storage_.data() + slot_offset(layer, 1, kv_head); }

private:
    int64_t slot_offset(int layer, int kv, int head) const {
        return ((int64_t(layer) * 2 + kv) * shape_.n_kv_heads + head) * shape_.block_tokens * shape_.head_dim;
    }
    KvCacheShape shape_;
    int32_t n_blocks_;
    int64_t block_stride_;
    std::vector<float> storage_;      // [n_blocks * block_stride]
    std::vector<int32_t> free_list_;  // blocks not owned by any sequence
};

// The KV state of one sequence: its block table and how many tokens it holds.
class SequenceKv {
public:
    explicit SequenceKv(KvBlockPool& pool) : pool_(pool) {}
    ~SequenceKv() { clear(); }
    SequenceKv(const SequenceKv&) = delete;
    SequenceKv& operator=(const SequenceKv&) = delete;

    int64_t n_tokens() const { return n_tokens_; }
    const std::vector<int32_t>& block_table() const { return block_table_; }

    // Makes room for `n_new` more tokens (allocating blocks); throws KvCacheFull, leaving
    // the sequence unchanged, when the pool cannot provide them.
    void reserve(int64_t n_new);
    // Marks `n` reserved tokens as written.
    void commit(int64_t n) { n_tokens_ += n; }
    // Returns every block to the pool.
    void clear();

    // Where token `pos` of this sequence stores K (or V) of (layer, kv_head): [head_dim].
    float* k_at(int layer, int kv_head, int64_t pos);
    float* v_at(int layer, int kv_head, int64_t pos);
    // The view the attention kernel reads.
    PagedKvHead view(int layer, int kv_head);

private:
    KvBlockPool& pool_;
    std::vector<int32_t> block_table_;
    int64_t n_tokens_ = 0;
};

}  // namespace ember
