// AVX2 building blocks shared by the kernels_*_avx2.cpp files. Include it only from files
// compiled with -mavx2 -mfma -mf16c (kernels/meson.build): everything here executes AVX2.
//
// Everything is `static inline` in an anonymous namespace on purpose: an inline function
// with external linkage compiled here could be merged by the linker with a copy compiled
// for generic x86-64 (the One Definition Rule lets it pick either), and generic code would
// then run AVX2 instructions. For the same reason the AVX2 files use no std:: containers
// or algorithms, only intrinsics, plain loops and their own helpers.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace ember {
namespace {

inline int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }

// Sum of the 8 lanes.
inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// Sum of 8 floats in double precision: two 4-lane halves widened before adding.
inline __m256d widen_add(__m256d acc, __m256 v) {
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    return _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

inline double hsum_pd(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// Lane mask with the first n (0..8) lanes set, for _mm256_maskload_ps / maskstore.
inline __m256i first_lanes(int64_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), idx);
}

// The first n (< 8) floats at p, zeros after; never reads past p[n-1].
inline __m256 load_partial(const float* p, int64_t n) { return _mm256_maskload_ps(p, first_lanes(n)); }

inline void store_partial(float* p, __m256 v, int64_t n) { _mm256_maskstore_ps(p, first_lanes(n), v); }

// int32 lanes -> acc + float(lanes) * scale.
inline __m256 fma_lanes(__m256i lanes, __m256 scale, __m256 acc) {
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), scale, acc);
}

// 32 bytes at p (unaligned).
inline __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// The weights of one q4 block of an interleaved-8 group (kernels/interleaved8.h; blk: the
// block's first byte) as unsigned nibbles, one row per int32 lane: lo[v] holds elements
// 4v..4v+3 of each row, hi[v] elements 16+4v..16+4v+3.
inline void unpack_q4_group_block(const uint8_t* blk, __m256i lo[4], __m256i hi[4]) {
    const __m256i low = _mm256_set1_epi8(0x0f);
    for (int v = 0; v < 4; ++v) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * v));
        lo[v] = _mm256_and_si256(q, low);
        hi[v] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
    }
}

// 4 bytes at p (unaligned) repeated in all 8 lanes.
inline __m256i bcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// acc[j] holds rows [r0, r0 + 8) of token t0 + j (j < n): store to y [n_tokens, rows],
// skipping rows past `rows`.
inline void store_tile(const __m256* acc, int n, int64_t t0, int64_t r0, int64_t rows, float* y) {
    const int64_t valid = rows - r0 < 8 ? rows - r0 : 8;
    for (int j = 0; j < n; ++j) {
        float* dst = y + (t0 + j) * rows + r0;
        if (valid == 8)
            _mm256_storeu_ps(dst, acc[j]);
        else
            store_partial(dst, acc[j], valid);
    }
}

// Runs body.template operator()<T>(acc) with T = n (1..4) on zeroed accumulators, then
// stores them as rows [r0, r0 + 8) of tokens [t0, t0 + n) (store_tile). T is a template
// argument so each token count gets its own fully unrolled, register-allocated loop.
template <class Body>
inline void tile_pass_n(int n, int64_t t0, int64_t r0, int64_t rows, float* y, Body&& body) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    switch (n) {
        case 4: body.template operator()<4>(acc); break;
        case 3: body.template operator()<3>(acc); break;
        case 2: body.template operator()<2>(acc); break;
        default: body.template operator()<1>(acc); break;
    }
    store_tile(acc, n, t0, r0, rows, y);
}

// 8 f16 / bf16 values to f32.
inline __m256 load_f16x8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 load_bf16x8(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

inline float f16_scalar(uint16_t h) { return _cvtsh_ss(h); }

// exp(x) for 8 lanes, relative error about 1 ulp for results in the normal range.
// x = n*ln2 + r with n = round(x / ln2), |r| <= ln2/2; exp(r) by a degree-6 polynomial
// (Cephes expf coefficients); 2^n built in the exponent field. Inputs below -87.33
// (results below the smallest normal float, and -inf) give 0; above 88.37 (where 2^n
// leaves the exponent range) +inf; NaN stays NaN.
inline __m256 exp_ps(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.37f), lo = _mm256_set1_ps(-87.33f);
    const __m256 too_small = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    const __m256 too_large = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
    const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // [-126, 127]
    // r = x - n*ln2 in two steps (ln2 split into an exactly representable head and a tail).
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));  // [1, 254]
    __m256 result = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23)));
    result = _mm256_andnot_ps(too_small, result);
    result = _mm256_blendv_ps(result, _mm256_set1_ps(__builtin_inff()), too_large);
    return _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN in, NaN out
}

}  // namespace
}  // namespace ember
