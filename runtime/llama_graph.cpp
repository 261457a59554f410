// Forward pass of a Llama-family decoder, top to bottom. Each step names its HF
// (modeling_llama.py / modeling_qwen2.py) equivalent.
#include "runtime/llama_graph.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ember {

namespace {

// The graph's per-token loops (norms, RoPE and K/V writes, bias splits, residual adds) run
// on all threads once a chunk has this many tokens (prefill): single-threaded they left
// the other threads idle for ~6 % of a prefill. Below it (decode) a fork/join would cost
// more than the loop. Every token's arithmetic is the same either way.
constexpr int64_t kParallelTokens = 16;

}  // namespace

bool fuse_projections_enabled() {
    static const bool enabled = [] {
        const char* v = std::getenv("EMBER_FUSE");
        return !(v != nullptr && std::strcmp(v, "0") == 0);
    }();
    return enabled;
}

LlamaGraph::LlamaGraph(const Model& model, int64_t max_context, int64_t max_batch, bool fuse)
    : model_(model), cfg_(model.config()), k_(kernels()), rope_(make_rope_table(model.config())),
      max_context_(max_context), max_batch_(max_batch), fuse_(fuse) {
    const int64_t H = cfg_.hidden_size, F = cfg_.intermediate_size, hd = cfg_.head_dim;
    const int64_t qkv_dim = (cfg_.n_heads + 2 * cfg_.n_kv_heads) * hd;
    const int64_t B = max_batch_;
    x_.resize(size_t(B * H));
    xn_.resize(size_t(B * H));
    q_.resize(size_t(B * cfg_.n_heads * hd));
    k_new_.resize(size_t(B * cfg_.n_kv_heads * hd));
    v_new_.resize(size_t(B * cfg_.n_kv_heads * hd));
    attn_.resize(size_t(B * cfg_.n_heads * hd));
    proj_.resize(size_t(B * H));
    ffn_.resize(size_t(B * std::max(2 * F, qkv_dim)));
    cos_.resize(size_t(B * hd / 2));
    sin_.resize(size_t(B * hd / 2));
    scores_.resize(size_t(omp_get_max_threads()) * size_t(max_context_));
    kv_views_.resize(size_t(cfg_.n_kv_heads));
}

void LlamaGraph::forward(std::span<const int32_t> tokens, SequenceKv& seq, float* logits, bool all_logits) {
    for (int32_t t : tokens)
        if (t < 0 || t >= cfg_.vocab_size)
            throw std::invalid_argument("token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                        std::to_string(cfg_.vocab_size - 1) + ")");
    if (seq.n_tokens() + int64_t(tokens.size()) > max_context_)
        throw ContextOverflow("context overflow: " + std::to_string(seq.n_tokens()) + " tokens in context + " +
                              std::to_string(tokens.size()) + " new exceed the context size " +
                              std::to_string(max_context_) + " (raise --ctx, up to the model's " +
                              std::to_string(cfg_.max_position) + ")");
    seq.reserve(int64_t(tokens.size()));  // all KV blocks up front: a full pool fails before any work
    const int64_t V = cfg_.vocab_size;
    for (size_t start = 0; start < tokens.size(); start += size_t(max_batch_)) {
        const size_t n = std::min(tokens.size() - start, size_t(max_batch_));
        const bool last_chunk = start + n == tokens.size();
        float* out = all_logits ? logits + int64_t(start) * V : (last_chunk ? logits : nullptr);
        forward_chunk(tokens.subspan(start, n), seq, out, all_logits);
    }
}

void LlamaGraph::forward_chunk(std::span<const int32_t> tokens, SequenceKv& seq, float* logits, bool all_logits) {
    const int64_t T = int64_t(tokens.size()), H = cfg_.hidden_size, half = cfg_.head_dim / 2;
    const int64_t pos0 = seq.n_tokens();
    const auto& w = model_.weights();

    // inputs_embeds = embed_tokens(input_ids)                         x: [T, H]
#pragma omp parallel for schedule(static) if (T >= kParallelTokens)
    for (int64_t t = 0; t < T; ++t) matrix_row_to_f32(w.embed, tokens[size_t(t)], &x_[size_t(t * H)]);
    // cos, sin = rotary_emb(position_ids)                             [T, head_dim/2]
#pragma omp parallel for schedule(static) if (T >= kParallelTokens)
    for (int64_t t = 0; t < T; ++t) rope_.at(pos0 + t, &cos_[size_t(t * half)], &sin_[size_t(t * half)]);

    for (int64_t l = 0; l < cfg_.n_layers; ++l) {
        const LayerWeights& L = w.layers[size_t(l)];
        attention_block(L, int(l), T, pos0, seq);
        feed_forward_block(L, T);
    }
    seq.commit(tokens);  // with ids: full blocks join the prefix cache
    if (!logits) return;

    // hidden = norm(hidden); logits = lm_head(hidden), for the last token or all.
    const int64_t first = all_logits ? 0 : T - 1, n_out = T - first;
#pragma omp parallel for schedule(static) if (n_out >= kParallelTokens)
    for (int64_t t = first; t < T; ++t)
        k_.rmsnorm(&x_[size_t(t * H)], w.final_norm, &xn_[size_t(t * H)], H, float(cfg_.rms_eps));
    k_.matmul(w.lm_head, &xn_[size_t(first * H)], logits, n_out);
}

// xn = input_layernorm(x) [T, H]; q = q_proj(xn) [T, nh*hd]; k = k_proj(xn), v = v_proj(xn)
// [T, nkv*hd] (+ bias: Qwen2), as one fused matmul where the model has qkv_proj. Shared by
// forward() and forward_batch(): rows are tokens, whichever sequences they belong to.
void LlamaGraph::project_qkv(const LayerWeights& L, int64_t T) {
    const int64_t H = cfg_.hidden_size, qdim = cfg_.n_heads * cfg_.head_dim, kvdim = cfg_.n_kv_heads * cfg_.head_dim;
#pragma omp parallel for schedule(static) if (T >= kParallelTokens)
    for (int64_t t = 0; t < T; ++t)
        k_.rmsnorm(&x_[size_t(t * H)], L.attn_norm, &xn_[size_t(t * H)], H, float(cfg_.rms_eps));
    if (fuse_ && L.qkv_proj) {
        // qkv [T, qdim + 2 kvdim] = (q_proj | k_proj | v_proj)(xn); split per token into
        // q, k, v, adding the biases in the same pass (the same float adds as below).
        const int64_t n = qdim + 2 * kvdim;
        float* qkv = ffn_.data();
        k_.matmul(*L.qkv_proj, xn_.data(), qkv, T);
#pragma omp parallel for schedule(static) if (T >= kParallelTokens)
        for (int64_t t = 0; t < T; ++t) {
            const float* row = qkv + t * n;
            float* q = &q_[size_t(t * qdim)];
            float* k = &k_new_[size_t(t * kvdim)];
            float* v = &v_new_[size_t(t * kvdim)];
            if (L.q_bias) {
                for (int64_t i = 0; i < qdim; ++i) q[i] = row[i] + L.q_bias[i];
                for (int64_t i = 0; i < kvdim; ++i) k[i] = row[qdim + i] + L.k_bias[i];
                for (int64_t i = 0; i < kvdim; ++i) v[i] = row[qdim + kvdim + i] + L.v_bias[i];
            } else {
                std::memcpy(q, row, size_t(qdim) * sizeof(float));
                std::memcpy(k, row + qdim, size_t(kvdim) * sizeof(float));
                std::memcpy(v, row + qdim + kvdim, size_t(kvdim) * sizeof(float));
            }
        }
        return;
    }
    k_.matmul(L.q_proj, xn_.data(), q_.data(), T);
    k_.matmul(L.k_proj, xn_.data(), k_new_.data(), T);
    k_.matmul(L.v_proj, xn_.data(), v_new_.data(), T);
    if (L.q_bias) {
#pragma omp parallel for schedule(static) if (T >= kParallelTokens)
        for (int64_t t = 0; t < T; ++t) {
            for (int64_t i = 0; i < qdim; ++i) q_[size_t(t * qdim + i)] += L.q_bias[i];
            for (int64_t i = 0; i < kvdim; ++i) k_new_[size_t(t * kvdim + i)] += L.k_bias[i];
            for (int64_t i = 0; i < kvdim; ++i) v_new_[size_t(t * kvdim + i)] += L.v_bias[i];
        }
    }
}

// LlamaAttention / Qwen2Attention with the residual: x += o_proj(attn(input_layernorm(x))).
void LlamaGraph::attention_block(const LayerWeights& L, int layer, int64_t T, int64_t pos0, SequenceKv& seq) {
    const int64_t H = cfg_.hidden_size, hd = cfg_.head_dim;
    const int nh = int(cfg_.n_heads), nkv = int(cfg_.n_kv_heads), half = int(hd / 2);
    const int64_t qdim = nh * hd, kvdim = nkv * hd;

    project_qkv(L, T);

    // q, k = apply_rotary_pos_emb(q, k, cos, sin); past_key_value.update(k, v)
    // (write_kv fills distinct rows of blocks reserved up front: safe in parallel)
#pragma omp parallel for schedule(static) if (T >= kParallelTokens)
    for (int64_t t = 0; t < T; ++t) {
        const float* c = &cos_[size_t(t * half)];
        const float* s = &sin_[size_t(t * half)];
        k_.rope(&q_[size_t(t * qdim)], nh, int(hd), c, s);
        k_.rope(&k_new_[size_t(t * kvdim)], nkv, int(hd), c, s);
        for (int h = 0; h < nkv; ++h)  // stored as the pool's kv type (f32 / f16 / q8)
            seq.write_kv(layer, h, pos0 + t, &k_new_[size_t(t * kvdim + h * hd)], &v_new_[size_t(t * kvdim + h * hd)]);
    }

    // attn = softmax(q k^T / sqrt(hd) + causal_mask) v, GQA: query head h reads kv head h / (nh / nkv).
    const float scale = 1.0f / std::sqrt(float(hd));
    const int group = nh / nkv;
    std::vector<PagedKvHead>& views = kv_views_;
    for (int h = 0; h < nkv; ++h) views[size_t(h)] = seq.view(layer, h);
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (T * nh > 1)
    for (int64_t t = 0; t < T; ++t) {
        for (int h = 0; h < nh; ++h) {
            float* scratch = &scores_[size_t(omp_get_thread_num()) * size_t(max_context_)];
            k_.attention(&q_[size_t(t * qdim + h * hd)], views[size_t(h / group)], pos0 + t + 1, int(hd), scale,
                         scratch, &attn_[size_t(t * qdim + h * hd)]);
        }
    }

    // x += o_proj(attn)
    k_.matmul(L.o_proj, attn_.data(), proj_.data(), T);
#pragma omp parallel for schedule(static) if (T >= kParallelTokens)
    for (int64_t i = 0; i < T * H; ++i) x_[size_t(i)] += proj_[size_t(i)];
}

// LlamaMLP with the residual: x += down_proj(silu(gate_proj(xn)) * up_proj(xn)),
// xn = post_attention_layernorm(x).
void LlamaGraph::feed_forward_block(const LayerWeights& L, int64_t T) {
    const int64_t H = cfg_.hidden_size, F = cfg_.intermediate_size;
#pragma omp parallel for schedule(static) if (T >= kParallelTokens)
    for (int64_t t = 0; t < T; ++t)
        k_.rmsnorm(&x_[size_t(t * H)], L.ffn_norm, &xn_[size_t(t * H)], H, float(cfg_.rms_eps));
    float* gate = ffn_.data();  // [T, F]  silu(gate) * up, the input of down_proj
    if (fuse_ && L.gate_up_proj) {
        k_.matmul(*L.gate_up_proj, xn_.data(), gate, T);  // [T, 2F]  per token gate | up
        // Token t's result goes to [tF, tF + F), over inputs already consumed (token 0:
        // exactly its own gate half, which silu_mul allows; t >= 1: below 2tF). So the
        // tokens must run in order, one at a time.
        for (int64_t t = 0; t < T; ++t) k_.silu_mul(gate + 2 * t * F, gate + 2 * t * F + F, gate + t * F, F);
    } else {
        float* up = ffn_.data() + max_batch_ * F;  // [T, F]
        k_.matmul(L.gate_proj, xn_.data(), gate, T);
        k_.matmul(L.up_proj, xn_.data(), up, T);
        k_.silu_mul(gate, up, gate, T * F);
    }
    k_.matmul(L.down_proj, gate, proj_.data(), T);  // [T, H]
#pragma omp parallel for schedule(static) if (T >= kParallelTokens)
    for (int64_t i = 0; i < T * H; ++i) x_[size_t(i)] += proj_[size_t(i)];
}

}  // namespace ember
