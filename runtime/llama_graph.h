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

namespace ember {

// A prompt or generation that does not fit in the context the user asked for.
struct ContextOverflow : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class LlamaGraph {
public:
    // max_context: positions per sequence (the --ctx limit); max_batch: tokens per forward
    // chunk (prefill is split into chunks of this size). Scratch is allocated here, once.
    LlamaGraph(const Model& model, int64_t max_context, int64_t max_batch = 256);

    // Runs `tokens` at the next positions of `seq` (appending their K/V).
    // logits: [vocab] for the last token, or [tokens.size(), vocab] when all_logits.
    // Throws ContextOverflow / std::invalid_argument (bad token id) before touching `seq`.
    void forward(std::span<const int32_t> tokens, SequenceKv& seq, float* logits, bool all_logits = false);

    int64_t max_context() const { return max_context_; }

private:
    void forward_chunk(std::span<const int32_t> tokens, SequenceKv& seq, float* logits, bool all_logits);
    void attention_block(const LayerWeights& L, int layer, int64_t T, int64_t pos0, SequenceKv& seq);
    void feed_forward_block(const LayerWeights& L, int64_t T);

    const Model& model_;
    const ModelConfig& cfg_;
    const KernelTable& k_;
    RopeTable rope_;
    int64_t max_context_, max_batch_;

    // Scratch, sized for max_batch tokens (T <= max_batch). Row-major [tokens, features].
    std::vector<float> x_;       // [T, hidden]  residual stream
    std::vector<float> xn_;      // [T, hidden]  normed input of a block
    std::vector<float> q_;       // [T, n_heads * head_dim]
    std::vector<float> k_new_;   // [T, n_kv_heads * head_dim]
    std::vector<float> v_new_;   // [T, n_kv_heads * head_dim]
    std::vector<float> attn_;    // [T, n_heads * head_dim]  attention output per head
    std::vector<float> proj_;    // [T, hidden]  o_proj / down_proj output
    std::vector<float> gate_;    // [T, intermediate]
    std::vector<float> up_;      // [T, intermediate]
    std::vector<float> cos_;     // [T, head_dim / 2]
    std::vector<float> sin_;     // [T, head_dim / 2]
    std::vector<float> scores_;  // [n_threads, max_context]  attention scratch per thread
    std::vector<PagedKvHead> kv_views_;  // [n_kv_heads]  this layer's K/V views for the attention kernel
};

}  // namespace ember
