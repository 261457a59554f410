// One query head against a paged K/V head (KernelTable::attention) with AVX2 + FMA.
// Compiled with -mavx2 -mfma -mf16c.
//
// Scores: q . K[t] for 4 keys at a time (4 accumulators, one combined horizontal sum).
// Output: sum_t p[t] V[t]. For head_dim 64 and 128 (the common sizes) q and the output
// row live in registers; other sizes go 8 lanes at a time through memory.
// K/V stored as f16 or q8 are decoded to f32 a block (up to kDecodeFloats values) at a
// time into a stack buffer (F16C / int8 widening), then run through the same f32 code,
// so every kv type gets exactly the f32 arithmetic on its decoded values; f16 rows of
// head_dim 64 / 128 are widened inside the same loops instead (identical values).
#include <cstring>
#include <type_traits>

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

// 8 values of a K/V row at p + 8 v as f32: f32 rows as they are, f16 rows widened (the
// same values decode_f16_row produces, so both paths give identical results).
inline __m256 load8(const float* p, int v) { return _mm256_loadu_ps(p + 8 * v); }
inline __m256 load8(const uint16_t* p, int v) { return load_f16x8(p + 8 * v); }

// block_scores for head_dim = 8 * kVecs: q held in registers, 4 keys per step. Elem: the
// stored element type of the rows k points at (float, or uint16_t for f16 read in place).
template <int kVecs, class Elem>
void block_scores_fixed(const float* q, const Elem* k, int n, float scale, float* scores) {
    constexpr int head_dim = 8 * kVecs;
    __m256 qv[kVecs];
    for (int v = 0; v < kVecs; ++v) qv[v] = _mm256_loadu_ps(q + 8 * v);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const Elem* k0 = k + int64_t(i) * head_dim;
        __m256 a0 = _mm256_mul_ps(qv[0], load8(k0, 0)), a1 = _mm256_mul_ps(qv[0], load8(k0 + head_dim, 0));
        __m256 a2 = _mm256_mul_ps(qv[0], load8(k0 + 2 * head_dim, 0));
        __m256 a3 = _mm256_mul_ps(qv[0], load8(k0 + 3 * head_dim, 0));
        for (int v = 1; v < kVecs; ++v) {
            a0 = _mm256_fmadd_ps(qv[v], load8(k0, v), a0);
            a1 = _mm256_fmadd_ps(qv[v], load8(k0 + head_dim, v), a1);
            a2 = _mm256_fmadd_ps(qv[v], load8(k0 + 2 * head_dim, v), a2);
            a3 = _mm256_fmadd_ps(qv[v], load8(k0 + 3 * head_dim, v), a3);
        }
        _mm_storeu_ps(scores + i, _mm_mul_ps(hsum4(a0, a1, a2, a3), _mm_set1_ps(scale)));
    }
    for (; i < n; ++i) {
        const Elem* kr = k + int64_t(i) * head_dim;
        __m256 a = _mm256_mul_ps(qv[0], load8(kr, 0));
        for (int v = 1; v < kVecs; ++v) a = _mm256_fmadd_ps(qv[v], load8(kr, v), a);
        scores[i] = hsum(a) * scale;
    }
}

constexpr int kDecodeFloats = 4096;  // decode buffer, 16 KiB of stack; head_dim <= this

// K/V rows decoded per pass: the whole 16-token block for head_dim <= 256, a multiple of
// 4 (the key grouping of block_scores) whenever possible.
inline int rows_per_pass(int head_dim) {
    const int rows = kDecodeFloats / head_dim;
    return rows >= 4 ? rows & ~3 : 1;
}

void decode_f16_row(const uint16_t* src, int head_dim, float* dst) {
    int d = 0;
    for (; d + 8 <= head_dim; d += 8) _mm256_storeu_ps(dst + d, load_f16x8(src + d));
    for (; d < head_dim; ++d) dst[d] = f16_scalar(src[d]);
}

// A q8 row: ceil(head_dim / 32) blocks of {f16 scale, int8 q[32]} (kernels/quant.h BlockQ8).
// scale * q is exact in f32, so this equals the reference decode bit for bit.
void decode_q8_row(const uint8_t* src, int head_dim, float* dst) {
    constexpr int kBlock = 32, kBlockBytes = 34;
    for (int d0 = 0; d0 < head_dim; d0 += kBlock, src += kBlockBytes) {
        uint16_t scale_bits;
        std::memcpy(&scale_bits, src, 2);
        const float scale = f16_scalar(scale_bits);
        const int8_t* q = reinterpret_cast<const int8_t*>(src + 2);
        const int n = int(min_i64(kBlock, head_dim - d0));
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            const __m256i q32 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i)));
            _mm256_storeu_ps(dst + d0 + i, _mm256_mul_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(q32)));
        }
        for (; i < n; ++i) dst[d0 + i] = scale * float(q[i]);
    }
}

// Rows [r0, r0 + n) of pool block `block` of K or V (`base` = kv.k or kv.v) as f32
// [n, head_dim]: a pointer into the pool for contiguous f32 rows, else decoded into buf.
const float* rows_f32(const PagedKvHead& kv, const void* base, int64_t block, int r0, int n, int head_dim,
                      float* buf /* [kDecodeFloats] */) {
    const uint8_t* p = static_cast<const uint8_t*>(base) + block * kv.block_stride + int64_t(r0) * kv.row_bytes;
    if (kv.dtype == DType::F32 && kv.row_bytes == int64_t(head_dim) * 4) return reinterpret_cast<const float*>(p);
    for (int i = 0; i < n; ++i, p += kv.row_bytes) {
        float* dst = buf + int64_t(i) * head_dim;
        if (kv.dtype == DType::F16)
            decode_f16_row(reinterpret_cast<const uint16_t*>(p), head_dim, dst);
        else if (kv.dtype == DType::Q8)
            decode_q8_row(p, head_dim, dst);
        else
            std::memcpy(dst, p, size_t(head_dim) * 4);  // f32 rows with a gap between them
    }
    return buf;
}

// Walks tokens [0, n_ctx) of K or V (`base` = kv.k or kv.v) through the block table in
// chunks of rows as f32: fn(rows [n, head_dim], first token t, n). The one loop over blocks
// that scores and weighted values share.
template <class Fn>
void for_each_row_chunk(const PagedKvHead& kv, const void* base, int64_t n_ctx, int head_dim, float* buf, Fn&& fn) {
    const int pass = rows_per_pass(head_dim);
    for (int64_t t0 = 0; t0 < n_ctx; t0 += kv.block_tokens) {
        const int64_t block = kv.block_table[t0 / kv.block_tokens];
        const int n_block = int(min_i64(kv.block_tokens, n_ctx - t0));
        for (int r0 = 0; r0 < n_block; r0 += pass) {
            const int n = int(min_i64(pass, n_block - r0));
            fn(rows_f32(kv, base, block, r0, n, head_dim, buf), t0 + r0, n);
        }
    }
}

// acc[kVecs] += sum_i p[i] V[i] over n rows of head_dim = 8 * kVecs.
template <int kVecs, class Elem>
inline void accumulate_rows(const Elem* vb, const float* p, int n, __m256* acc) {
    for (int64_t i = 0; i < n; ++i) {
        const __m256 pt = _mm256_set1_ps(p[i]);
        for (int v = 0; v < kVecs; ++v) acc[v] = _mm256_fmadd_ps(pt, load8(vb + i * 8 * kVecs, v), acc[v]);
    }
}

// f16 K/V with rows packed back to back (row_bytes = 2 * head_dim) are read in place by
// the fixed head_dim kernels: F16C widening inside the dot products instead of a pass
// through the decode buffer (the f16 KV cache's cost in prefill halves).
inline bool f16_in_place(const PagedKvHead& kv, int head_dim) {
    return kv.dtype == DType::F16 && kv.row_bytes == int64_t(head_dim) * 2;
}

// Walks tokens [0, n_ctx) of f16 K or V block by block: fn(rows [n, head_dim] f16, first token t, n).
template <class Fn>
void for_each_f16_block(const PagedKvHead& kv, const void* base, int64_t n_ctx, Fn&& fn) {
    for (int64_t t0 = 0; t0 < n_ctx; t0 += kv.block_tokens) {
        const int64_t block = kv.block_table[t0 / kv.block_tokens];
        const auto* rows = reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(base) + block * kv.block_stride);
        fn(rows, t0, int(min_i64(kv.block_tokens, n_ctx - t0)));
    }
}

// out[head_dim] = sum_t p[t] V[t], head_dim = 8 * kVecs, out row in registers.
template <int kVecs>
void weighted_values_fixed(const PagedKvHead& kv, int64_t n_ctx, const float* p, float* buf, float* out) {
    __m256 acc[kVecs];
    for (int v = 0; v < kVecs; ++v) acc[v] = _mm256_setzero_ps();
    if (f16_in_place(kv, 8 * kVecs)) {
        for_each_f16_block(kv, kv.v, n_ctx, [&](const uint16_t* vb, int64_t t, int n) {
            accumulate_rows<kVecs>(vb, p + t, n, acc);
        });
    } else {
        for_each_row_chunk(kv, kv.v, n_ctx, 8 * kVecs, buf, [&](const float* vb, int64_t t, int n) {
            accumulate_rows<kVecs>(vb, p + t, n, acc);
        });
    }
    for (int v = 0; v < kVecs; ++v) _mm256_storeu_ps(out + 8 * v, acc[v]);
}

void weighted_values_any(const PagedKvHead& kv, int64_t n_ctx, int head_dim, const float* p, float* buf,
                         float* out) {
    for (int d = 0; d < head_dim; ++d) out[d] = 0.0f;
    for_each_row_chunk(kv, kv.v, n_ctx, head_dim, buf, [&](const float* vb, int64_t t, int n) {
        for (int64_t i = 0; i < n; ++i) {
            const __m256 pt = _mm256_set1_ps(p[t + i]);
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
    });
}

}  // namespace

void attention(const float* q /* [head_dim] */, const PagedKvHead& kv, int64_t n_ctx, int head_dim, float scale,
               float* scratch /* [n_ctx] */, float* out /* [head_dim] */) {
    if (n_ctx <= 0) {
        for (int d = 0; d < head_dim; ++d) out[d] = 0.0f;
        return;
    }
    alignas(32) float buf[kDecodeFloats];  // decoded K or V rows [rows_per_pass, head_dim]
    // scratch[t, t + n) = scale * q . K rows of the chunk (f32 rows, or f16 read in place).
    auto scores = [&](const auto* kb, int64_t t, int n) {
        if (head_dim == 64)
            block_scores_fixed<8>(q, kb, n, scale, scratch + t);
        else if (head_dim == 128)
            block_scores_fixed<16>(q, kb, n, scale, scratch + t);
        else if constexpr (std::is_same_v<std::remove_cvref_t<decltype(*kb)>, float>)
            block_scores(q, kb, n, head_dim, scale, scratch + t);
    };
    if ((head_dim == 64 || head_dim == 128) && f16_in_place(kv, head_dim))
        for_each_f16_block(kv, kv.k, n_ctx, scores);
    else
        for_each_row_chunk(kv, kv.k, n_ctx, head_dim, buf, scores);
    softmax(scratch, n_ctx);  // scratch: attention probabilities [n_ctx]
    if (head_dim == 64)
        weighted_values_fixed<8>(kv, n_ctx, scratch, buf, out);
    else if (head_dim == 128)
        weighted_values_fixed<16>(kv, n_ctx, scratch, buf, out);
    else
        weighted_values_any(kv, n_ctx, head_dim, scratch, buf, out);
}

}  // namespace ember::avx2
