#include "runtime/kv_cache.h"

#include <cassert>

namespace ember {

KvBlockPool::KvBlockPool(KvCacheShape shape, int32_t n_blocks) : shape_(shape), n_blocks_(n_blocks) {
    block_stride_ = int64_t(shape.n_layers) * 2 * shape.n_kv_heads * shape.block_tokens * shape.head_dim;
    storage_.assign(size_t(block_stride_) * size_t(n_blocks), 0.0f);
    free_list_.reserve(size_t(n_blocks));
    // Hand out low block numbers first (LIFO stack, highest at the bottom).
    for (int32_t b = n_blocks - 1; b >= 0; --b) free_list_.push_back(b);
}

int32_t KvBlockPool::allocate() {
    if (free_list_.empty())
        throw KvCacheFull("KV cache is full: all " + std::to_string(n_blocks_) + " blocks of " +
                          std::to_string(shape_.block_tokens) + " tokens are in use (raise --ctx)");
    int32_t b = free_list_.back();
    free_list_.pop_back();
    return b;
}

void KvBlockPool::release(int32_t block) {
    assert(block >= 0 && block < n_blocks_);
    free_list_.push_back(block);
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

void SequenceKv::clear() {
    for (int32_t b : block_table_) pool_.release(b);
    block_table_.clear();
    n_tokens_ = 0;
}

float* SequenceKv::k_at(int layer, int kv_head, int64_t pos) {
    const int bt = pool_.shape().block_tokens;
    return pool_.k_base(layer, kv_head) + block_table_[size_t(pos / bt)] * pool_.block_stride() +
           (pos % bt) * pool_.shape().head_dim;
}

float* SequenceKv::v_at(int layer, int kv_head, int64_t pos) {
    const int bt = pool_.shape().block_tokens;
    return pool_.v_base(layer, kv_head) + block_table_[size_t(pos / bt)] * pool_.block_stride() +
           (pos % bt) * pool_.shape().head_dim;
}

PagedKvHead SequenceKv::view(int layer, int kv_head) {
    PagedKvHead v;
    v.k = pool_.k_base(layer, kv_head);
    v.v = pool_.v_base(layer, kv_head);
    v.block_table = block_table_.data();
    v.block_stride = pool_.block_stride();
    v.block_tokens = pool_.shape().block_tokens;
    return v;
}

}  // namespace ember
