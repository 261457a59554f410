// The decoder graph shared by every supported architecture (Llama, Qwen2): differences
// such as q/k/v biases, tied embeddings and RoPE scaling are config flags.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "runtime/rope.h"
#include "runtime/scratch_buffer.h"

namespace ember {

// A prompt or generation that does not fit in the context the user asked for.
struct ContextOverflow : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One sequence's share of a batched forward (LlamaGraph::forward_batch).
struct BatchItem {
    SequenceKv* seq = nullptr;        // its KV cache; `tokens` go at positions seq->n_tokens()...
    std::span<const int32_t> tokens;  // 1 token for a decode step, a chunk for prefill
    float* logits = nullptr;          // [vocab] for the item's last token; nullptr: none wanted
};

// Whether graphs use the model's fused q|k|v and gate|up matrices (LayerWeights::qkv_proj,
// gate_up_proj) where it has them: yes unless EMBER_FUSE=0 (read once; A/B measurements).
bool fuse_projections_enabled();

class LlamaGraph {
public:
    // max_context: positions per sequence (the --ctx limit); max_batch: tokens per forward
    // chunk (prefill is split into chunks of this size). Scratch is allocated here, once.
    // fuse: run q/k/v and gate/up as one matmul each where the model has fused views (the
    // logits are the same either way; tests compare both).
    LlamaGraph(const Model& model, int64_t max_context, int64_t max_batch = 256,
               bool fuse = fuse_projections_enabled());

    // Runs `tokens` at the next positions of `seq` (appending their K/V).
    // logits: [vocab] for the last token, or [tokens.size(), vocab] when all_logits.
    // Throws ContextOverflow / std::invalid_argument (bad token id) before touching `seq`.
    void forward(std::span<const int32_t> tokens, SequenceKv& seq, float* logits, bool all_logits = false);

    // Runs every item's tokens in one pass per layer: all tokens of all items are stacked
    // into one [T, hidden] activation matrix, so each weight matrix is read once per step
    // (decode of N sequences = matmuls with n_tokens = N). RoPE positions, K/V writes and
    // attention are per item, over its own block table. Steps hold at most max_batch tokens:
    // a batch with more is split (an item may straddle two steps). The logits equal those of
    // forward() on each item alone (bit for bit where the kernels' rows do not depend on the
    // batch size: the scalar table; runtime/llama_graph_batch.cpp says more).
    // Throws std::invalid_argument (no tokens, bad id, a sequence twice, null seq) and
    // ContextOverflow before touching any sequence; KvCacheFull when the pool cannot hold the
    // new tokens (items before the failing one may keep blocks reserved for them, which their
    // next forward reuses and clear() returns).
    void forward_batch(std::span<const BatchItem> items);

    int64_t max_context() const { return max_context_; }
    int64_t max_batch() const { return max_batch_; }

private:
    // One item's tokens [offset, offset + n) placed at rows [row0, row0 + n) of a step.
    struct BatchPiece {
        const BatchItem* item;
        int64_t offset, n, row0;
    };
    void forward_batch_step(std::span<const BatchPiece> pieces, int64_t T);
    void batched_attention_block(const LayerWeights& L, int layer, std::span<const BatchPiece> pieces, int64_t T);

    void forward_chunk(std::span<const int32_t> tokens, SequenceKv& seq, float* logits, bool all_logits);
    void project_qkv(const LayerWeights& L, int64_t T);
    void attention_block(const LayerWeights& L, int layer, int64_t T, int64_t pos0, SequenceKv& seq);
    void feed_forward_block(const LayerWeights& L, int64_t T);

    const Model& model_;
    const ModelConfig& cfg_;
    const KernelTable& k_;
    RopeTable rope_;
    int64_t max_context_, max_batch_;
    bool fuse_;

    // Scratch, sized for max_batch tokens (T <= max_batch), pages touched only as rows are
    // used (ScratchBuffer). Row-major [tokens, features].
    ScratchBuffer<float> x_;       // [T, hidden]  residual stream
    ScratchBuffer<float> xn_;      // [T, hidden]  normed input of a block
    ScratchBuffer<float> q_;       // [T, n_heads * head_dim]
    ScratchBuffer<float> k_new_;   // [T, n_kv_heads * head_dim]
    ScratchBuffer<float> v_new_;   // [T, n_kv_heads * head_dim]
    ScratchBuffer<float> attn_;    // [T, n_heads * head_dim]  attention output per head
    ScratchBuffer<float> proj_;    // [T, hidden]  o_proj / down_proj output
    // [max_batch, max(2 intermediate, qdim + 2 kvdim)]: the MLP's gate and up outputs, and the
    // fused q|k|v output before project_qkv splits it (attention and MLP never need it at
    // once). Split matmuls: gate [T, F] at the start, up [T, F] at max_batch * F. Fused
    // gate_up_proj: per token [gate F | up F], then silu(gate) * up [T, F] at the start.
    ScratchBuffer<float> ffn_;
    ScratchBuffer<float> cos_;     // [T, head_dim / 2]
    ScratchBuffer<float> sin_;     // [T, head_dim / 2]
    ScratchBuffer<float> scores_;  // [n_threads, max_context]  attention scratch per thread
    std::vector<PagedKvHead> kv_views_;  // [n_kv_heads]  this layer's K/V views for the attention kernel

    // forward_batch scratch, sized on its first call (later steps do not allocate).
    std::vector<int64_t> row_pos_;             // [max_batch]  position of each row in its sequence
    std::vector<int32_t> row_piece_;           // [max_batch]  piece (of the step) each row belongs to
    std::vector<PagedKvHead> piece_views_;     // [max_batch, n_kv_heads]  per piece, this layer's K/V views
    std::vector<BatchPiece> pieces_;           // [<= max_batch]  the current step's pieces
    std::vector<float> batch_logits_;          // [rows with logits, vocab]  grown on demand
};

}  // namespace ember
