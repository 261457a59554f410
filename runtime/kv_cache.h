// Paged KV cache: one pool of fixed-size blocks shared by all sequences, a block table per
// sequence mapping its token positions to pool blocks, and an automatic prefix cache that
// lets sequences share full blocks holding the same token prefix (docs/architecture.md).
//
// Pool layout:  blocks[n_blocks][n_layers][2 (K, V)][n_kv_heads][block_tokens][row]
// where a row is head_dim values stored as the pool's kv type (f32, f16 or q8: the
// kernels/kernels.h PagedKvHead formats). The K (or V) rows of one (layer, kv_head) inside
// a block are contiguous, and the same slot in the next block is block_stride() bytes on.
//
// Prefix cache: a block that a sequence has filled (block_tokens tokens written) is
// registered under the chain hash of its whole token prefix,
//     hash(block i) = chain_hash(hash(block i-1), tokens of block i),
// so equal hashes mean equal positions and equal history. Blocks are reference counted:
// a new sequence attaches the cached blocks that match the start of its prompt
// (attach_cached_prefix) and computes only the rest. Shared blocks are read-only: only
// full blocks are ever shared and a sequence only writes into its partial tail block.
// A block whose last reference goes away stays cached (least recently released first
// out) until the pool needs it for a new allocation.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/scratch_buffer.h"

namespace ember {

struct KvCacheShape {
    int n_layers = 0;
    int n_kv_heads = 0;
    int head_dim = 0;
    int block_tokens = 16;          // tokens per block
    DType kv_type = DType::F32;     // F32, F16 or Q8 (the CLI default is f16)
};

struct KvCacheFull : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// "f32" | "f16" | "q8" -> the DType; anything else throws std::invalid_argument naming the choices.
DType parse_kv_type(std::string_view name);
bool is_kv_type(DType t);
// Bytes of one stored K or V row (head_dim values), of one block, and of K+V of one token
// over all layers (Qwen2.5-0.5B: f32 24576, f16 12288, q8 6528).
int64_t kv_row_bytes(const KvCacheShape& s);
int64_t kv_block_bytes(const KvCacheShape& s);
int64_t kv_bytes_per_token(const KvCacheShape& s);

// Blocks a pool needs: n_sequences sequences of ctx tokens each, or, when kv_mem_bytes > 0,
// as many blocks as fit in that budget. Throws std::invalid_argument when the budget holds
// fewer than ctx tokens (one full sequence) or the count does not fit an int32.
int32_t kv_pool_blocks(const KvCacheShape& s, int64_t ctx, int64_t n_sequences, uint64_t kv_mem_bytes = 0);

class KvBlockPool {
public:
    // Allocates (and zero-fills, so the memory is committed) all n_blocks up front: the
    // decode loop never allocates. Throws std::invalid_argument for a bad shape.
    KvBlockPool(KvCacheShape shape, int32_t n_blocks);

    const KvCacheShape& shape() const { return shape_; }
    int32_t n_blocks() const { return n_blocks_; }
    // Blocks no sequence holds (never used, or cached): what allocate() can still hand out.
    int32_t free_blocks() const { return int32_t(free_list_.size()) + n_cached_; }
    // Of those, blocks that keep a registered prefix (evicted least recently released first).
    int32_t cached_blocks() const { return n_cached_; }
    int64_t block_stride() const { return block_stride_; }  // bytes per block
    int64_t row_bytes() const { return row_bytes_; }        // bytes per K or V row
    int64_t bytes() const { return int64_t(storage_.size()); }
    int32_t ref_count(int32_t block) const { return ref_count_[size_t(block)]; }

    // Takes a block with reference count 1: a never-used one if any, else the least
    // recently released cached block (forgetting its prefix). Throws KvCacheFull.
    int32_t allocate();
    // One more reference to a block that is held or cached (a cached one leaves the LRU).
    void acquire(int32_t block);
    // Drops one reference; at zero the block is cached (if registered) or free.
    void release(int32_t block);

    // ---- prefix cache
    static constexpr uint64_t kRootHash = 0x6a09e667f3bcc908ull;  // "hash" of the empty prefix
    static uint64_t chain_hash(uint64_t parent_hash, std::span<const int32_t> tokens);
    // The registered block with this hash whose parent hash and tokens also match, or -1.
    int32_t find_cached(uint64_t hash, uint64_t parent_hash, std::span<const int32_t> tokens) const;
    // Registers a full, written, held block. If the same prefix is already registered and
    // held by a sequence, this block stays unregistered; if it is only cached, the old copy
    // is freed and this one takes its place.
    void register_block(int32_t block, uint64_t hash, uint64_t parent_hash, std::span<const int32_t> tokens);
    bool is_registered(int32_t block) const { return registered_[size_t(block)] != 0; }
    // Forgets every cached (unheld) block, returning it to the free list; held blocks keep
    // their registration. For cold-cache measurements and tests.
    void drop_cache();

    // Start of K (or V) of (layer, kv_head) in block 0; add block * block_stride().
    uint8_t* k_base(int layer, int kv_head) { return storage_.data() + slot_offset(layer, 0, kv_head); }
    uint8_t* v_base(int layer, int kv_head) { return storage_.data() + slot_offset(layer, 1, kv_head); }

private:
    int64_t slot_offset(int layer, int kv, int head) const {
        return ((int64_t(layer) * 2 + kv) * shape_.n_kv_heads + head) * shape_.block_tokens * row_bytes_;
    }
    void lru_push_back(int32_t block);
    void lru_remove(int32_t block);
    void unregister(int32_t block);
    size_t bucket_of(uint64_t hash) const { return size_t(hash & (bucket_head_.size() - 1)); }

    KvCacheShape shape_;
    int32_t n_blocks_;
    int64_t row_bytes_, block_stride_;
    ScratchBuffer<uint8_t> storage_;    // [n_blocks * block_stride] bytes, resident as blocks are written
    std::vector<int32_t> free_list_;    // unheld, unregistered blocks (capacity n_blocks)
    std::vector<int32_t> ref_count_;    // [n_blocks]
    // Prefix registry, all fixed-size so registering and evicting never allocate.
    std::vector<uint8_t> registered_;   // [n_blocks]
    std::vector<uint64_t> hash_, parent_hash_;  // [n_blocks]
    std::vector<int32_t> tokens_;       // [n_blocks, block_tokens] ids of registered blocks
    std::vector<int32_t> bucket_head_;  // [power of two >= n_blocks] first block per hash bucket, -1 = none
    std::vector<int32_t> bucket_next_;  // [n_blocks] next block in the same bucket
    // Cached blocks (registered, reference count 0) in release order: head is evicted first.
    std::vector<int32_t> lru_prev_, lru_next_;  // [n_blocks]
    int32_t lru_head_ = -1, lru_tail_ = -1, n_cached_ = 0;
};

// The KV state of one sequence: its block table, how many tokens it holds, and the hash
// chain of its full blocks (for registering them in the prefix cache).
class SequenceKv {
public:
    explicit SequenceKv(KvBlockPool& pool);
    ~SequenceKv() { clear(); }
    SequenceKv(const SequenceKv&) = delete;
    SequenceKv& operator=(const SequenceKv&) = delete;

    KvBlockPool& pool() { return pool_; }
    int64_t n_tokens() const { return n_tokens_; }
    const std::vector<int32_t>& block_table() const { return block_table_; }

    // For an empty sequence about to run `prompt`: attaches the longest run of cached full
    // blocks matching the start of the prompt and returns how many tokens are now present
    // (a multiple of block_tokens, always < prompt.size() so the last token is computed
    // and has logits). The caller then runs prompt[returned:]. Throws std::logic_error if
    // the sequence is not empty.
    int64_t attach_cached_prefix(std::span<const int32_t> prompt);

    // Makes room for `n_new` more tokens (allocating blocks); throws KvCacheFull, leaving
    // the sequence unchanged, when the pool cannot provide them.
    void reserve(int64_t n_new);
    // Marks the next tokens.size() reserved tokens as written with these ids; each block
    // they fill is registered in the prefix cache.
    void commit(std::span<const int32_t> tokens);
    // The same without ids: the sequence then stops registering blocks (its history is
    // unknown) until clear().
    void commit(int64_t n);
    // Returns every block to the pool (the last block first, so a shared prefix outlives
    // its tails in the LRU).
    void clear();

    // Stores K and V [head_dim] f32 of token `pos` of (layer, kv_head), converted to the
    // pool's kv type. pos must be reserved and its block held by this sequence alone.
    void write_kv(int layer, int kv_head, int64_t pos, const float* k, const float* v);
    // Where token `pos` keeps its stored K (or V) row of (layer, kv_head).
    const uint8_t* k_row(int layer, int kv_head, int64_t pos) const;
    const uint8_t* v_row(int layer, int kv_head, int64_t pos) const;
    // The view the attention kernel reads.
    PagedKvHead view(int layer, int kv_head) const;

private:
    int64_t slot(int64_t pos) const;  // byte offset of pos's row from the (layer, head) base

    KvBlockPool& pool_;
    std::vector<int32_t> block_table_;
    int64_t n_tokens_ = 0;
    bool registering_ = true;           // false after commit(n) without ids
    uint64_t prefix_hash_ = KvBlockPool::kRootHash;  // chain hash of the full blocks so far
    std::vector<int32_t> tail_tokens_;  // ids in the partial last block (capacity block_tokens)
};

}  // namespace ember
