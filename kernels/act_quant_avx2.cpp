// Activation rows -> q8 blocks for the int8 matmul kernels, exactly as quantize_row_q8_ref.
// Compiled with -mavx2 -mfma -mf16c.
#include "kernels/kernels_avx2.h"
#include "kernels/scratch.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

// 32 floats (the last block may be partial: `count` < 32 reads only `count` values).
struct Block32 {
    __m256 v[4];
};

inline Block32 load_block(const float* x, int64_t count) {
    Block32 b;
    for (int i = 0; i < 4; ++i) {
        const int64_t n = count - 8 * i;
        b.v[i] = n >= 8 ? _mm256_loadu_ps(x + 8 * i) : (n > 0 ? load_partial(x + 8 * i, n) : _mm256_setzero_ps());
    }
    return b;
}

// The stored scale of quantize_row_q8_ref (kernels/quant.cpp): the f16 nearest
// absmax/127, one f16 step outward if that lost magnitude, capped at the largest finite f16.
inline float q8_scale(float absmax) {
    if (absmax == 0.0f) return 0.0f;
    const float d = absmax / 127.0f;
    uint16_t h = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    if ((h & 0x7fffu) < 0x7c00u && f16_scalar(h) < d) ++h;
    if ((h & 0x7fffu) >= 0x7c00u) h = 0x7bffu;
    return f16_scalar(h);
}

// q = round(x / scale) in [-127, 127], bit for bit what quantize_row_q8_ref stores, so the
// int8 kernels see the same activations on every ISA. Returns the sum of q.
inline int32_t quantize_block(const Block32& b, int8_t* q /* [32] */, float* d) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256 amax = _mm256_andnot_ps(sign_bit, b.v[0]);
    for (int i = 1; i < 4; ++i) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_bit, b.v[i]));
    const float scale = q8_scale(hmax(amax));
    *d = scale;
    const __m256 s = _mm256_set1_ps(scale == 0.0f ? 1.0f : scale);  // all-zero block: q = 0
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    __m256i qi[4];
    for (int i = 0; i < 4; ++i)  // x / scale (correctly rounded, like the reference), nearest even
        qi[i] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_div_ps(b.v[i], s), lo), hi));
    const __m256i sum32 = _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3]));
    // packs interleave 128-bit lanes: [0l 1l 0h 1h] -> fix the order with a permute.
    const __m256i p16a = _mm256_packs_epi32(qi[0], qi[1]), p16b = _mm256_packs_epi32(qi[2], qi[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    const __m256i ordered = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), ordered);
    __m128i total = _mm_add_epi32(_mm256_castsi256_si128(sum32), _mm256_extracti128_si256(sum32, 1));
    total = _mm_add_epi32(total, _mm_shuffle_epi32(total, 0x4e));
    total = _mm_add_epi32(total, _mm_shuffle_epi32(total, 0xb1));
    return _mm_cvtsi128_si32(total);
}

}  // namespace

QuantizedActs quantize_acts(const float* x /* [n_tokens, cols] */, int64_t n_tokens, int64_t cols) {
    const int64_t nb = (cols + 31) / 32;
    const size_t q_bytes = size_t(n_tokens * nb * 32), d_bytes = size_t(n_tokens * nb) * 4;
    auto* base = static_cast<uint8_t*>(thread_scratch(ScratchSlot::kActs, 2 * q_bytes + 2 * d_bytes + 64));
    auto* q = reinterpret_cast<int8_t*>(base);
    auto* d = reinterpret_cast<float*>(base + q_bytes);
    auto* q4_offset = reinterpret_cast<int32_t*>(base + q_bytes + d_bytes);
    auto* qu = base + q_bytes + 2 * d_bytes;
    // Cheap next to the matmul that follows (cols MACs per row vs rows*cols): one thread
    // unless there are many tokens.
#pragma omp parallel for schedule(static) if (n_tokens >= 16)
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t b = 0; b < nb; ++b) {
            const Block32 blk = load_block(x + t * cols + b * 32, min_i64(32, cols - b * 32));
            int8_t* qb = q + (t * nb + b) * 32;
            q4_offset[t * nb + b] = -8 * quantize_block(blk, qb, &d[t * nb + b]);
            const __m256i flipped = _mm256_xor_si256(load32(reinterpret_cast<const uint8_t*>(qb)),
                                                     _mm256_set1_epi8(static_cast<char>(0x80)));  // q + 128
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(qu + (t * nb + b) * 32), flipped);
        }
    }
    return {q, d, q4_offset, qu, nb};
}

const float* dequantize_acts(const QuantizedActs& a, int64_t n_tokens, int64_t cols) {
    auto* out = static_cast<float*>(thread_scratch(ScratchSlot::kActsF32, size_t(n_tokens * cols) * 4));
    const int64_t nb = a.n_blocks;
#pragma omp parallel for schedule(static) if (n_tokens >= 16)
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t b = 0; b < nb; ++b) {
            const int8_t* q = a.q + (t * nb + b) * 32;
            const __m256 d = _mm256_set1_ps(a.d[t * nb + b]);
            float* dst = out + t * cols + b * 32;
            for (int i = 0; i < 4; ++i) {
                const int64_t n = cols - b * 32 - 8 * i;
                if (n <= 0) break;
                const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + 8 * i));
                const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), d);  // exact
                if (n >= 8)
                    _mm256_storeu_ps(dst + 8 * i, v);
                else
                    store_partial(dst + 8 * i, v, n);
            }
        }
    }
    return out;
}

}  // namespace ember::avx2
