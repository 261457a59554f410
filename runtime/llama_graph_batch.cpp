// LlamaGraph::forward_batch: many sequences in one forward pass (continuous batching).
//
// Every step stacks the tokens of all items into x [T, hidden], so each weight matrix is
// streamed from memory once for all of them; only RoPE, the K/V write and attention look
// at which sequence a row belongs to. The per-row arithmetic is the same as forward()'s
// (attention_block / feed_forward_block in llama_graph.cpp): RoPE and K/V writes row by
// row, one attention kernel call per (row, query head) over that row's own sequence.
//
// Bit-identity with forward() on each item alone holds when the matmul kernel's output row
// t depends only on input row t, not on how many rows it gets: true of the scalar table
// (EMBER_ISA=generic). The AVX2 table quantizes activations per row exactly as before, but
// the one-token matvec and the batched int8 tiles sum the 32-blocks in different orders
// (and oneDNN takes large float batches), so there the logits agree to rounding, not bit
// for bit (tests/engine/test_forward_batch.cpp measures both).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "runtime/llama_graph.h"

namespace ember {

void LlamaGraph::forward_batch(std::span<const BatchItem> items) {
    // Validate everything before any sequence changes.
    for (size_t i = 0; i < items.size(); ++i) {
        const BatchItem& it = items[i];
        const std::string which = "batch item " + std::to_string(i);
        if (it.seq == nullptr) throw std::invalid_argument(which + " has no sequence");
        if (it.tokens.empty()) throw std::invalid_argument(which + " has no tokens");
        for (int32_t t : it.tokens)
            if (t < 0 || t >= cfg_.vocab_size)
                throw std::invalid_argument(which + ": token id " + std::to_string(t) +
                                            " is outside the vocabulary (0.." +
                                            std::to_string(cfg_.vocab_size - 1) + ")");
        for (size_t j = 0; j < i; ++j)
            if (items[j].seq == it.seq)
                throw std::invalid_argument(which + " repeats the sequence of batch item " + std::to_string(j) +
                                            " (a sequence's tokens must be one item)");
        if (it.seq->n_tokens() + int64_t(it.tokens.size()) > max_context_)
            throw ContextOverflow(which + ": context overflow: " + std::to_string(it.seq->n_tokens()) +
                                  " tokens in context + " + std::to_string(it.tokens.size()) +
                                  " new exceed the context size " + std::to_string(max_context_));
    }
    // All KV blocks up front: a full pool fails before any compute.
    for (const BatchItem& it : items) it.seq->reserve(int64_t(it.tokens.size()));

    const int64_t nkv = cfg_.n_kv_heads;
    row_pos_.resize(size_t(max_batch_));
    row_piece_.resize(size_t(max_batch_));
    piece_views_.resize(size_t(max_batch_ * nkv));
    pieces_.reserve(size_t(max_batch_));

    // Fill steps of up to max_batch rows with the items in order.
    size_t item = 0;
    int64_t offset = 0;
    while (item < items.size()) {
        pieces_.clear();
        int64_t rows = 0;
        while (item < items.size() && rows < max_batch_) {
            const int64_t left = int64_t(items[item].tokens.size()) - offset;
            const int64_t take = std::min(left, max_batch_ - rows);
            pieces_.push_back({&items[item], offset, take, rows});
            rows += take;
            offset += take;
            if (offset == int64_t(items[item].tokens.size())) ++item, offset = 0;
        }
        forward_batch_step(pieces_, rows);
    }
}

void LlamaGraph::forward_batch_step(std::span<const BatchPiece> pieces, int64_t T) {
    const int64_t H = cfg_.hidden_size, half = cfg_.head_dim / 2, V = cfg_.vocab_size;
    const auto& w = model_.weights();

    // x[T, H] = embed_tokens(ids); cos, sin [T, head_dim/2] at each row's own position.
    for (size_t p = 0; p < pieces.size(); ++p) {
        const BatchPiece& pc = pieces[p];
        const int64_t pos0 = pc.item->seq->n_tokens();
        for (int64_t i = 0; i < pc.n; ++i) {
            const int64_t r = pc.row0 + i;
            matrix_row_to_f32(w.embed, pc.item->tokens[size_t(pc.offset + i)], &x_[size_t(r * H)]);
            row_pos_[size_t(r)] = pos0 + i;
            row_piece_[size_t(r)] = int32_t(p);
            rope_.at(pos0 + i, &cos_[size_t(r * half)], &sin_[size_t(r * half)]);
        }
    }

    for (int64_t l = 0; l < cfg_.n_layers; ++l) {
        const LayerWeights& L = w.layers[size_t(l)];
        batched_attention_block(L, int(l), pieces, T);
        feed_forward_block(L, T);
    }
    // With ids: the blocks they fill join the prefix cache, as in forward().
    for (const BatchPiece& pc : pieces) pc.item->seq->commit(pc.item->tokens.subspan(size_t(pc.offset), size_t(pc.n)));

    // logits = lm_head(norm(x)) for the last row of each item that ends in this step and
    // wants logits. Those rows are normed into xn_ rows 0..n_out-1 so lm_head runs once.
    int64_t n_out = 0;
    for (const BatchPiece& pc : pieces) {
        if (pc.item->logits == nullptr || pc.offset + pc.n != int64_t(pc.item->tokens.size())) continue;
        const int64_t r = pc.row0 + pc.n - 1;
        k_.rmsnorm(&x_[size_t(r * H)], w.final_norm, &xn_[size_t(n_out * H)], H, float(cfg_.rms_eps));
        ++n_out;
    }
    if (n_out == 0) return;
    if (n_out == 1) {  // straight into the caller's buffer
        for (const BatchPiece& pc : pieces)
            if (pc.item->logits != nullptr && pc.offset + pc.n == int64_t(pc.item->tokens.size()))
                k_.matmul(w.lm_head, xn_.data(), pc.item->logits, 1);
        return;
    }
    if (batch_logits_.size() < size_t(n_out * V)) batch_logits_.resize(size_t(n_out * V));
    k_.matmul(w.lm_head, xn_.data(), batch_logits_.data(), n_out);  // [n_out, V]
    int64_t j = 0;
    for (const BatchPiece& pc : pieces) {
        if (pc.item->logits == nullptr || pc.offset + pc.n != int64_t(pc.item->tokens.size())) continue;
        std::memcpy(pc.item->logits, &batch_logits_[size_t(j * V)], size_t(V) * sizeof(float));
        ++j;
    }
}

// attention_block for stacked rows: x += o_proj(attn(input_layernorm(x))), where each row
// attends over its own sequence.
void LlamaGraph::batched_attention_block(const LayerWeights& L, int layer, std::span<const BatchPiece> pieces,
                                         int64_t T) {
    const int64_t H = cfg_.hidden_size, hd = cfg_.head_dim;
    const int nh = int(cfg_.n_heads), nkv = int(cfg_.n_kv_heads), half = int(hd / 2);
    const int64_t qdim = nh * hd, kvdim = nkv * hd;

    // q [T, nh*hd], k, v [T, nkv*hd]: one matmul (fused q|k|v) or one each, for every sequence's rows.
    project_qkv(L, T);

    // RoPE at each row's position; K/V into the row's own sequence (same ops as forward()).
    for (int64_t t = 0; t < T; ++t) {
        SequenceKv& seq = *pieces[size_t(row_piece_[size_t(t)])].item->seq;
        const int64_t pos = row_pos_[size_t(t)];
        const float* c = &cos_[size_t(t * half)];
        const float* s = &sin_[size_t(t * half)];
        k_.rope(&q_[size_t(t * qdim)], nh, int(hd), c, s);
        k_.rope(&k_new_[size_t(t * kvdim)], nkv, int(hd), c, s);
        for (int h = 0; h < nkv; ++h)  // stored as the pool's kv type (f32 / f16 / q8)
            seq.write_kv(layer, h, pos, &k_new_[size_t(t * kvdim + h * hd)], &v_new_[size_t(t * kvdim + h * hd)]);
    }

    // attn = softmax(q k^T / sqrt(hd) + causal_mask) v over the row's sequence, GQA as in
    // forward(). One parallel loop over every (row, head) of every sequence.
    for (size_t p = 0; p < pieces.size(); ++p)
        for (int h = 0; h < nkv; ++h) piece_views_[p * size_t(nkv) + size_t(h)] = pieces[p].item->seq->view(layer, h);
    const float scale = 1.0f / std::sqrt(float(hd));
    const int group = nh / nkv;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (T * nh > 1)
    for (int64_t t = 0; t < T; ++t) {
        for (int h = 0; h < nh; ++h) {
            float* scratch = &scores_[size_t(omp_get_thread_num()) * size_t(max_context_)];
            const PagedKvHead& kv = piece_views_[size_t(row_piece_[size_t(t)]) * size_t(nkv) + size_t(h / group)];
            k_.attention(&q_[size_t(t * qdim + h * hd)], kv, row_pos_[size_t(t)] + 1, int(hd), scale, scratch,
                         &attn_[size_t(t * qdim + h * hd)]);
        }
    }

    // x += o_proj(attn)
    k_.matmul(L.o_proj, attn_.data(), proj_.data(), T);
    for (int64_t i = 0; i < T * H; ++i) x_[size_t(i)] += proj_[size_t(i)];
}

}  // namespace ember
