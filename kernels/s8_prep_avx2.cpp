// Operand preparation for the oneDNN s8 x s8 matmul (kernels/gemm_onednn.cpp): per-token
// activation rows and per-row weight tiles to s8, the per-token output scaling, and the
// outlier measure that decides whether per-token activation scales are safe.
// Compiled with -mavx2 -mfma -mf16c.
#include "kernels/kernels_avx2.h"
#include "kernels/quant.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

inline __m256 load_cols(const float* p, int64_t n) { return n >= 8 ? _mm256_loadu_ps(p) : load_partial(p, n); }

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// 8 int32 lanes -> 8 int8 (saturating) stored at dst.
inline void store_s8x8(int8_t* dst, __m256i v, int64_t n) {
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i b = _mm_packs_epi16(w, w);
    if (n >= 8) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), b);
    } else {
        int8_t tmp[16];
        _mm_storeu_si128(reinterpret_cast<__m128i*>(tmp), b);
        std::memcpy(dst, tmp, size_t(n));
    }
}

// q[i] = round(v[i] * inv) for n floats.
void quantize_floats(const float* v, int64_t n, float inv, int8_t* q) {
    const __m256 s = _mm256_set1_ps(inv);
    for (int64_t c = 0; c < n; c += 8)
        store_s8x8(q + c, _mm256_cvtps_epi32(_mm256_mul_ps(load_cols(v + c, n - c), s)), n - c);
}

float absmax(const float* v, int64_t n) {
    __m256 m = _mm256_setzero_ps();
    for (int64_t c = 0; c < n; c += 8) m = _mm256_max_ps(m, abs_ps(load_cols(v + c, n - c)));
    return hmax(m);
}

// One q4 row -> s8 with one scale: the row's largest |w| is 8 |d_b| of its largest block
// scale (quantize_row_q4_ref maps each block's extreme to nibble 0), so
// s8 = round((n - 8) * 127 d_b / (8 max|d|)), |s8| <= 127. Computed in int16 fixed point:
// mulhrs((n - 8) * 16, round(f * 2^11)) = round((n - 8) * f) with f = 127 d_b / (8 max|d|)
// <= 15.9 known to 2^-11 (product error <= 8 * 2^-12, far below the rounding step).
float requant_row_q4(const BlockQ4* row, int64_t cols, int8_t* out) {
    const int64_t nb = (cols + 31) / 32;
    float dmax = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
        const float d = f16_scalar(row[b].scale_f16);
        dmax = d > dmax ? d : (-d > dmax ? -d : dmax);
    }
    if (dmax == 0.0f) {
        std::memset(out, 0, size_t(cols));
        return 0.0f;
    }
    const float k = 127.0f / (8.0f * dmax);
    const __m256i high = _mm256_set1_epi8(int8_t(0xf0)), bias = _mm256_set1_epi8(int8_t(0x80));
    for (int64_t b = 0; b < nb; ++b) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row[b].q));
        // 16 * nibble in each byte (low nibbles: elements 0..15, high: 16..31), then -128:
        // 16 (n - 8) in [-128, 112] as int8 (xor 0x80 subtracts 128 modulo 256).
        const __m256i n16 = _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_slli_epi16(v, 4)), v, 1), high);
        const __m256i a = _mm256_xor_si256(n16, bias);
        const __m256i f = _mm256_set1_epi16(int16_t(__builtin_lrintf(f16_scalar(row[b].scale_f16) * k * 2048.0f)));
        const __m256i lo = _mm256_mulhrs_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(a)), f);
        const __m256i hi = _mm256_mulhrs_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(a, 1)), f);
        // packs works per 128-bit lane: [lo0 hi0 | lo1 hi1] -> reorder 64-bit quarters.
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi16(lo, hi), 0xd8);
        int8_t* dst = out + b * 32;
        if (cols - b * 32 >= 32) {
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), packed);
        } else {
            int8_t tmp[32];
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(tmp), packed);
            std::memcpy(dst, tmp, size_t(cols - b * 32));
        }
    }
    return 8.0f * dmax / 127.0f;
}

}  // namespace

float quantize_rows_s8(const float* x /* [T, cols] */, int64_t n_tokens, int64_t cols, int8_t* q /* [T, cols] */,
                       float* scale /* [T] */) {
    float worst = 0.0f;
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* row = x + t * cols;
        // Outlier measure: (row absmax)^2 over the mean of (32-block absmax)^2, the ratio of
        // the per-element error variance with one scale per row to that with one per block.
        double blocks_sq = 0.0;
        float row_max = 0.0f;
        for (int64_t c = 0; c < cols; c += 32) {
            const float m = absmax(row + c, min_i64(32, cols - c));
            blocks_sq += double(m) * m;
            row_max = m > row_max ? m : row_max;
        }
        const double mean_sq = blocks_sq / double((cols + 31) / 32);
        const float ratio = mean_sq > 0.0 ? float(double(row_max) * row_max / mean_sq) : 1.0f;
        worst = ratio > worst ? ratio : worst;
        scale[t] = row_max / 127.0f;
        quantize_floats(row, cols, row_max > 0.0f ? 127.0f / row_max : 0.0f, q + t * cols);
    }
    return worst;
}

void requant_rows_s8(const MatrixView& w, int64_t r0, int64_t n_rows, int8_t* out /* [n_rows, cols] */,
                     float* scale /* [n_rows] */, float* tmp /* [cols] */) {
    const auto* base = static_cast<const uint8_t*>(w.data);
    for (int64_t i = 0; i < n_rows; ++i) {
        int8_t* dst = out + i * w.cols;
        if (w.dtype == DType::Q4) {
            scale[i] = requant_row_q4(reinterpret_cast<const BlockQ4*>(base + (r0 + i) * w.row_bytes), w.cols, dst);
            continue;
        }
        decode_rows_f32(w, r0 + i, 1, tmp, w.cols);  // other dtypes: through f32
        const float m = absmax(tmp, w.cols);
        scale[i] = m / 127.0f;
        quantize_floats(tmp, w.cols, m > 0.0f ? 127.0f / m : 0.0f, dst);
    }
}

void scale_token_rows(float* y, int64_t ld, int64_t n_tokens, int64_t n, const float* token_scale) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        float* row = y + t * ld;
        const __m256 s = _mm256_set1_ps(token_scale[t]);
        int64_t c = 0;
        for (; c + 8 <= n; c += 8) _mm256_storeu_ps(row + c, _mm256_mul_ps(_mm256_loadu_ps(row + c), s));
        for (; c < n; ++c) row[c] *= token_scale[t];
    }
}

}  // namespace ember::avx2
