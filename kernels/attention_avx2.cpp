// One query head against a paged K/V head (KernelTable::attention) with AVX2 + FMA.
// Compiled with -mavx2 -mfma -mf16c.
//
// Scores: q . K[t] for 4 keys at a time (4 accumulators, one combined horizontal sum).
// Output: sum_t p[t] V[t]. For head_dim 64 and 128 (the common sizes) q and the output
// row live in registers; other sizes go 8 lanes at a time through memory.
#include "kernels/kernels_avx2.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

// 8 floats of a head_dim row at d (masked past head_dim).
inline __m256 load_dims(const float* p, int d, int head_dim) {
    return head_dim - d >= 8 ? _mm256_loadu_ps(p + d) : load_partial(p + d, head_dim - d);
}

// The 4 horizontal sums of a, b, c, d as one 4-lane vector.
inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);  // per 128-bit lane
    const __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// scores[i] = scale * q . K[i] for the n consecutive rows of one pool block.
void block_scores(const float* q, const float* k, int n, int head_dim, float scale, float* scores) {
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const float* k0 = k + int64_t(i) * head_dim;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0; d < head_dim; d += 8) {
            const __m256 qv = load_dims(q, d, head_dim);
            a0 = _mm256_fmadd_ps(qv, load_dims(k0, d, head_dim), a0);
            a1 = _mm256_fmadd_ps(qv, load_dims(k0 + head_dim, d, head_dim), a1);
            a2 = _mm256_fmadd_ps(qv, load_dims(k0 + 2 * head_dim, d, head_dim), a2);
            a3 = _mm256_fmadd_ps(qv, load_dims(k0 + 3 * head_dim, d, head_dim), a3);
        }
        _mm_storeu_ps(scores + i, _mm_mul_ps(hsum4(a0, a1, a2, a3), _mm_set1_ps(scale)));
    }
    for (; i < n; ++i) {
        const float* kr = k + int64_t(i) * head_dim;
        __m256 a = _mm256_setzero_ps();
        for (int d = 0; d < head_dim; d += 8) a = _mm256_fmadd_ps(load_dims(q, d, head_dim), load_dims(kr, d, head_dim), a);
        scores[i] = hsum(a) * scale;
    }
}

// block_scores for head_dim = 8 * kVecs: q held in registers, 4 keys per step.
template <int kVecs>
void block_scores_fixed(const float* q, const float* k, int n, float scale, float* scores) {
    constexpr int head_dim = 8 * kVecs;
    __m256 qv[kVecs];
    for (int v = 0; v < kVecs; ++v) qv[v] = _mm256_loadu_ps(q + 8 * v);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const float* k0 = k + int64_t(i) * head_dim;
        __m256 a0 = _mm256_mul_ps(qv[0], _mm256_loadu_ps(k0)), a1 = _mm256_mul_ps(qv[0], _mm256_loadu_ps(k0 + head_dim));
        __m256 a2 = _mm256_mul_ps(qv[0], _mm256_loadu_ps(k0 + 2 * head_dim));
        __m256 a3 = _mm256_mul_ps(qv[0], _mm256_loadu_ps(k0 + 3 * head_dim));
        for (int v = 1; v < kVecs; ++v) {
            a0 = _mm256_fmadd_ps(qv[v], _mm256_loadu_ps(k0 + 8 * v), a0);
            a1 = _mm256_fmadd_ps(qv[v], _mm256_loadu_ps(k0 + head_dim + 8 * v), a1);
            a2 = _mm256_fmadd_ps(qv[v], _mm256_loadu_ps(k0 + 2 * head_dim + 8 * v), a2);
            a3 = _mm256_fmadd_ps(qv[v], _mm256_loadu_ps(k0 + 3 * head_dim + 8 * v), a3);
        }
        _mm_storeu_ps(scores + i, _mm_mul_ps(hsum4(a0, a1, a2, a3), _mm_set1_ps(scale)));
    }
    for (; i < n; ++i) {
        const float* kr = k + int64_t(i) * head_dim;
        __m256 a = _mm256_mul_ps(qv[0], _mm256_loadu_ps(kr));
        for (int v = 1; v < kVecs; ++v) a = _mm256_fmadd_ps(qv[v], _mm256_loadu_ps(kr + 8 * v), a);
        scores[i] = hsum(a) * scale;
    }
}

// out[head_dim] = sum_t p[t] V[t], head_dim = 8 * kVecs, out row in registers.
template <int kVecs>
void weighted_values_fixed(const PagedKvHead& kv, int64_t n_ctx, const float* p, float* out) {
    constexpr int head_dim = 8 * kVecs;
    __m256 acc[kVecs];
    for (int v = 0; v < kVecs; ++v) acc[v] = _mm256_setzero_ps();
    for (int64_t t0 = 0; t0 < n_ctx; t0 += kv.block_tokens) {
        const float* vb = kv.v + int64_t(kv.block_table[t0 / kv.block_tokens]) * kv.block_stride;
        const int64_t n = min_i64(kv.block_tokens, n_ctx - t0);
        for (int64_t i = 0; i < n; ++i) {
            const __m256 pt = _mm256_set1_ps(p[t0 + i]);
            for (int v = 0; v < kVecs; ++v) acc[v] = _mm256_fmadd_ps(pt, _mm256_loadu_ps(vb + i * head_dim + 8 * v), acc[v]);
        }
    }
    for (int v = 0; v < kVecs; ++v) _mm256_storeu_ps(out + 8 * v, acc[v]);
}

void weighted_values_any(const PagedKvHead& kv, int64_t n_ctx, int head_dim, const float* p, float* out) {
    for (int d = 0; d < head_dim; ++d) out[d] = 0.0f;
    for (int64_t t0 = 0; t0 < n_ctx; t0 += kv.block_tokens) {
        const float* vb = kv.v + int64_t(kv.block_table[t0 / kv.block_tokens]) * kv.block_stride;
        const int64_t n = min_i64(kv.block_tokens, n_ctx - t0);
        for (int64_t i = 0; i < n; ++i) {
            const __m256 pt = _mm256_set1_ps(p[t0 + i]);
            const float* vr = vb + i * head_dim;
            for (int d = 0; d < head_dim; d += 8) {
                const int m = head_dim - d;
                const __m256 o = _mm256_fmadd_ps(pt, load_dims(vr, d, head_dim), load_dims(out, d, head_dim));
                if (m >= 8)
                    _mm256_storeu_ps(out + d, o);
                else
                    store_partial(out + d, o, m);
            }
        }
    }
}

}  // namespace

void attention(const float* q /* [head_dim] */, const PagedKvHead& kv, int64_t n_ctx, int head_dim, float scale,
               float* scratch /* [n_ctx] */, float* out /* [head_dim] */) {
    if (n_ctx <= 0) {
        for (int d = 0; d < head_dim; ++d) out[d] = 0.0f;
        return;
    }
    for (int64_t t0 = 0; t0 < n_ctx; t0 += kv.block_tokens) {
        const float* kb = kv.k + int64_t(kv.block_table[t0 / kv.block_tokens]) * kv.block_stride;
        const int n = int(min_i64(kv.block_tokens, n_ctx - t0));
        if (head_dim == 64)
            block_scores_fixed<8>(q, kb, n, scale, scratch + t0);
        else if (head_dim == 128)
            block_scores_fixed<16>(q, kb, n, scale, scratch + t0);
        else
            block_scores(q, kb, n, head_dim, scale, scratch + t0);
    }
    softmax(scratch, n_ctx);  // scratch: attention probabilities [n_ctx]
    if (head_dim == 64)
        weighted_values_fixed<8>(kv, n_ctx, scratch, out);
    else if (head_dim == 128)
        weighted_values_fixed<16>(kv, n_ctx, scratch, out);
    else
        weighted_values_any(kv, n_ctx, head_dim, scratch, out);
}

}  // namespace ember::avx2
