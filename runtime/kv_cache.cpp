#include "runtime/kv_cache.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>
#include <string>

#include "kernels/half.h"
#include "kernels/quant.h"

namespace ember {

DType parse_kv_type(std::string_view name) {
    if (name == "f32") return DType::F32;
    if (name == "f16") return DType::F16;
    if (name == "q8") return DType::Q8;
    throw std::invalid_argument("unknown KV cache type '" + std::string(name) + "' (expected f32, f16 or q8)");
}

bool is_kv_type(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::Q8;
}

int64_t kv_row_bytes(const KvCacheShape& s) {
    return dtype_row_bytes(s.kv_type, s.head_dim);
}

int64_t kv_block_bytes(const KvCacheShape& s) {
    return int64_t(s.n_layers) * 2 * s.n_kv_heads * s.block_tokens * kv_row_bytes(s);
}

int64_t kv_bytes_per_token(const KvCacheShape& s) {
    return int64_t(s.n_layers) * 2 * s.n_kv_heads * kv_row_bytes(s);
}

int32_t kv_pool_blocks(const KvCacheShape& s, int64_t ctx, int64_t n_sequences, uint64_t kv_mem_bytes) {
    if (ctx < 1 || n_sequences < 1) throw std::invalid_argument("the KV cache needs a positive context and sequence count");
    const int64_t per_seq = (ctx + s.block_tokens - 1) / s.block_tokens;
    int64_t blocks = 0;
    if (kv_mem_bytes == 0) {
        blocks = per_seq * n_sequences;
    } else {
        blocks = int64_t(kv_mem_bytes / uint64_t(kv_block_bytes(s)));
        if (blocks < per_seq)
            throw std::invalid_argument(
                "--kv-mem " + std::to_string(kv_mem_bytes) + " bytes holds " + std::to_string(blocks * s.block_tokens) +
                " tokens of KV cache at kv-type " + std::string(dtype_name(s.kv_type)) + " (" +
                std::to_string(kv_bytes_per_token(s)) + " bytes per token), fewer than the context of " +
                std::to_string(ctx) + " tokens (raise --kv-mem to at least " +
                std::to_string(per_seq * kv_block_bytes(s)) + " or lower --ctx)");
    }
    if (blocks > std::numeric_limits<int32_t>::max())
        throw std::invalid_argument("KV cache of " + std::to_string(blocks) + " blocks is too large");
    return int32_t(blocks);
}

// ---------------------------------------------------------------- pool

KvBlockPool::KvBlockPool(KvCacheShape shape, int32_t n_blocks) : shape_(shape), n_blocks_(n_blocks) {
    if (!is_kv_type(shape.kv_type))
        throw std::invalid_argument("KV cache type " + std::string(dtype_name(shape.kv_type)) +
                                    " is not supported (f32, f16 or q8)");
    if (shape.n_layers < 1 || shape.n_kv_heads < 1 || shape.head_dim < 1 || shape.head_dim > 1024 ||
        shape.block_tokens < 1 || n_blocks < 1)
        throw std::invalid_argument("bad KV cache shape: " + std::to_string(shape.n_layers) + " layers, " +
                                    std::to_string(shape.n_kv_heads) + " kv heads, head_dim " +
                                    std::to_string(shape.head_dim) + " (1..1024), " +
                                    std::to_string(shape.block_tokens) + " tokens per block, " +
                                    std::to_string(n_blocks) + " blocks");
    row_bytes_ = kv_row_bytes(shape);
    block_stride_ = kv_block_bytes(shape);
    storage_.resize(size_t(block_stride_) * size_t(n_blocks));  // zeroed; pages resident once written
    const size_t n = size_t(n_blocks);
    free_list_.reserve(n);
    // Hand out low block numbers first (LIFO stack, highest at the bottom).
    for (int32_t b = n_blocks - 1; b >= 0; --b) free_list_.push_back(b);
    ref_count_.assign(n, 0);
    registered_.assign(n, 0);
    hash_.assign(n, 0);
    parent_hash_.assign(n, 0);
    tokens_.assign(n * size_t(shape.block_tokens), 0);
    size_t buckets = 1;
    while (buckets < n) buckets *= 2;
    bucket_head_.assign(buckets, -1);
    bucket_next_.assign(n, -1);
    lru_prev_.assign(n, -1);
    lru_next_.assign(n, -1);
}

int32_t KvBlockPool::allocate() {
    int32_t b;
    if (!free_list_.empty()) {
        b = free_list_.back();
        free_list_.pop_back();
    } else if (lru_head_ >= 0) {
        b = lru_head_;  // the least recently released cached prefix block
        lru_remove(b);
        unregister(b);
    } else {
        throw KvCacheFull("KV cache is full: all " + std::to_string(n_blocks_) + " blocks of " +
                          std::to_string(shape_.block_tokens) + " tokens are in use (raise --ctx or --kv-mem)");
    }
    ref_count_[size_t(b)] = 1;
    return b;
}

void KvBlockPool::acquire(int32_t block) {
    assert(block >= 0 && block < n_blocks_);
    if (ref_count_[size_t(block)] == 0) {
        assert(registered_[size_t(block)]);  // unheld blocks outside the free list are cached ones
        lru_remove(block);
    }
    ++ref_count_[size_t(block)];
}

void KvBlockPool::release(int32_t block) {
    assert(block >= 0 && block < n_blocks_ && ref_count_[size_t(block)] > 0);
    if (--ref_count_[size_t(block)] > 0) return;
    if (registered_[size_t(block)])
        lru_push_back(block);
    else
        free_list_.push_back(block);
}

uint64_t KvBlockPool::chain_hash(uint64_t parent_hash, std::span<const int32_t> tokens) {
    // splitmix64's finalizer over (state ^ token), token by token: every token and its
    // position within the block change all output bits.
    uint64_t h = parent_hash;
    for (int32_t t : tokens) {
        uint64_t z = h ^ (uint64_t(uint32_t(t)) + 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        h = z ^ (z >> 31);
    }
    return h;
}

int32_t KvBlockPool::find_cached(uint64_t hash, uint64_t parent_hash, std::span<const int32_t> tokens) const {
    if (int64_t(tokens.size()) != shape_.block_tokens) return -1;
    for (int32_t b = bucket_head_[bucket_of(hash)]; b >= 0; b = bucket_next_[size_t(b)]) {
        // The parent hash and ids are compared too, so a 64-bit collision would need the
        // same block tokens under a colliding parent.
        const int32_t* ids = &tokens_[size_t(b) * size_t(shape_.block_tokens)];
        if (hash_[size_t(b)] == hash && parent_hash_[size_t(b)] == parent_hash &&
            std::equal(tokens.begin(), tokens.end(), ids))
            return b;
    }
    return -1;
}

void KvBlockPool::register_block(int32_t block, uint64_t hash, uint64_t parent_hash,
                                 std::span<const int32_t> tokens) {
    assert(ref_count_[size_t(block)] > 0 && int64_t(tokens.size()) == shape_.block_tokens);
    if (registered_[size_t(block)]) return;
    const int32_t existing = find_cached(hash, parent_hash, tokens);
    if (existing >= 0) {
        if (ref_count_[size_t(existing)] > 0) return;  // a sequence holds that prefix: keep it
        lru_remove(existing);  // only cached: the fresh copy replaces it
        unregister(existing);
        free_list_.push_back(existing);
    }
    registered_[size_t(block)] = 1;
    hash_[size_t(block)] = hash;
    parent_hash_[size_t(block)] = parent_hash;
    std::copy(tokens.begin(), tokens.end(), &tokens_[size_t(block) * size_t(shape_.block_tokens)]);
    const size_t bucket = bucket_of(hash);
    bucket_next_[size_t(block)] = bucket_head_[bucket];
    bucket_head_[bucket] = block;
}

void KvBlockPool::unregister(int32_t block) {
    if (!registered_[size_t(block)]) return;
    int32_t* link = &bucket_head_[bucket_of(hash_[size_t(block)])];
    while (*link != block) link = &bucket_next_[size_t(*link)];
    *link = bucket_next_[size_t(block)];
    bucket_next_[size_t(block)] = -1;
    registered_[size_t(block)] = 0;
}

void KvBlockPool::drop_cache() {
    while (lru_head_ >= 0) {
        const int32_t b = lru_head_;
        lru_remove(b);
        unregister(b);
        free_list_.push_back(b);
    }
}

void KvBlockPool::lru_push_back(int32_t block) {
    lru_prev_[size_t(block)] = lru_tail_;
    lru_next_[size_t(block)] = -1;
    if (lru_tail_ >= 0)
        lru_next_[size_t(lru_tail_)] = block;
    else
        lru_head_ = block;
    lru_tail_ = block;
    ++n_cached_;
}

void KvBlockPool::lru_remove(int32_t block) {
    const int32_t prev = lru_prev_[size_t(block)], next = lru_next_[size_t(block)];
    (prev >= 0 ? lru_next_[size_t(prev)] : lru_head_) = next;
    (next >= 0 ? lru_prev_[size_t(next)] : lru_tail_) = prev;
    lru_prev_[size_t(block)] = lru_next_[size_t(block)] = -1;
    --n_cached_;
}

// ---------------------------------------------------------------- sequence

SequenceKv::SequenceKv(KvBlockPool& pool) : pool_(pool) {
    tail_tokens_.reserve(size_t(pool.shape().block_tokens));
}

int64_t SequenceKv::attach_cached_prefix(std::span<const int32_t> prompt) {
    if (n_tokens_ != 0 || !block_table_.empty())
        throw std::logic_error("attach_cached_prefix needs an empty sequence");
    const int64_t bt = pool_.shape().block_tokens;
    // Leave at least the last prompt token to compute: its logits are what the caller wants.
    const int64_t max_blocks = prompt.empty() ? 0 : (int64_t(prompt.size()) - 1) / bt;
    for (int64_t i = 0; i < max_blocks; ++i) {
        const auto ids = prompt.subspan(size_t(i * bt), size_t(bt));
        const uint64_t h = KvBlockPool::chain_hash(prefix_hash_, ids);
        const int32_t b = pool_.find_cached(h, prefix_hash_, ids);
        if (b < 0) break;
        pool_.acquire(b);
        block_table_.push_back(b);
        prefix_hash_ = h;
        n_tokens_ += bt;
    }
    return n_tokens_;
}

void SequenceKv::reserve(int64_t n_new) {
    const int64_t bt = pool_.shape().block_tokens;
    const int64_t need = (n_tokens_ + n_new + bt - 1) / bt;
    std::vector<int32_t> got;
    try {
        while (int64_t(block_table_.size() + got.size()) < need) got.push_back(pool_.allocate());
    } catch (const KvCacheFull&) {
        for (int32_t b : got) pool_.release(b);  // leave the sequence as it was
        throw;
    }
    block_table_.insert(block_table_.end(), got.begin(), got.end());
}

void SequenceKv::commit(std::span<const int32_t> tokens) {
    const size_t bt = size_t(pool_.shape().block_tokens);
    assert(n_tokens_ + int64_t(tokens.size()) <= int64_t(block_table_.size() * bt));
    for (int32_t t : tokens) {
        ++n_tokens_;
        if (!registering_) continue;
        tail_tokens_.push_back(t);
        if (tail_tokens_.size() < bt) continue;
        // Block n_tokens_/bt - 1 is now full and written: publish it under its prefix hash.
        const uint64_t h = KvBlockPool::chain_hash(prefix_hash_, tail_tokens_);
        pool_.register_block(block_table_[size_t(n_tokens_ / int64_t(bt)) - 1], h, prefix_hash_, tail_tokens_);
        prefix_hash_ = h;
        tail_tokens_.clear();
    }
}

void SequenceKv::commit(int64_t n) {
    assert(n_tokens_ + n <= int64_t(block_table_.size()) * pool_.shape().block_tokens);
    n_tokens_ += n;
    registering_ = false;
    tail_tokens_.clear();
}

void SequenceKv::clear() {
    for (auto it = block_table_.rbegin(); it != block_table_.rend(); ++it) pool_.release(*it);
    block_table_.clear();
    n_tokens_ = 0;
    registering_ = true;
    prefix_hash_ = KvBlockPool::kRootHash;
    tail_tokens_.clear();
}

int64_t SequenceKv::slot(int64_t pos) const {
    const int bt = pool_.shape().block_tokens;
    return block_table_[size_t(pos / bt)] * pool_.block_stride() + (pos % bt) * pool_.row_bytes();
}

void SequenceKv::write_kv(int layer, int kv_head, int64_t pos, const float* k, const float* v) {
    const int bt = pool_.shape().block_tokens;
    assert(pos >= 0 && pos / bt < int64_t(block_table_.size()));
    // Shared blocks are read-only; only full blocks are shared, and pos is past them.
    assert(pool_.ref_count(block_table_[size_t(pos / bt)]) == 1);
    (void)bt;
    const int hd = pool_.shape().head_dim;
    uint8_t* rows[2] = {pool_.k_base(layer, kv_head) + slot(pos), pool_.v_base(layer, kv_head) + slot(pos)};
    const float* src[2] = {k, v};
    for (int i = 0; i < 2; ++i) {
        switch (pool_.shape().kv_type) {
            case DType::F16: {
                uint16_t* dst = reinterpret_cast<uint16_t*>(rows[i]);
                for (int d = 0; d < hd; ++d) dst[d] = f32_to_f16(src[i][d]);
                break;
            }
            case DType::Q8:
                quantize_row_q8_ref(src[i], reinterpret_cast<BlockQ8*>(rows[i]), hd);
                break;
            default:
                std::memcpy(rows[i], src[i], size_t(hd) * sizeof(float));
                break;
        }
    }
}

const uint8_t* SequenceKv::k_row(int layer, int kv_head, int64_t pos) const {
    return pool_.k_base(layer, kv_head) + slot(pos);
}

const uint8_t* SequenceKv::v_row(int layer, int kv_head, int64_t pos) const {
    return pool_.v_base(layer, kv_head) + slot(pos);
}

PagedKvHead SequenceKv::view(int layer, int kv_head) const {
    PagedKvHead v;
    v.dtype = pool_.shape().kv_type;
    v.k = pool_.k_base(layer, kv_head);
    v.v = pool_.v_base(layer, kv_head);
    v.block_table = block_table_.data();
    v.block_stride = pool_.block_stride();
    v.row_bytes = pool_.row_bytes();
    v.block_tokens = pool_.shape().block_tokens;
    return v;
}

}  // namespace ember
