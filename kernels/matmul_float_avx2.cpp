// F32 / F16 / BF16 weights x f32 activations with FMA, and the weight-tile decoder the
// oneDNN path uses. Compiled with -mavx2 -mfma -mf16c.
//
// Like the reference, each row is summed in chunks of 32 columns (a fresh register per
// chunk, then added to the row total), which keeps the f32 rounding error near
// (32 + cols/32) ulps of sum|w x| instead of cols/8 ulps for long rows.
#include "kernels/kernels_avx2.h"
#include "kernels/quant.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

constexpr int64_t kParallelMinMacs = 32768;

// 8 weights of a row starting at column c (n < 8: only n are read, the rest are 0).
struct LoadF32 {
    static __m256 full(const void* row, int64_t c) { return _mm256_loadu_ps(static_cast<const float*>(row) + c); }
    static __m256 part(const void* row, int64_t c, int64_t n) {
        return load_partial(static_cast<const float*>(row) + c, n);
    }
};
struct LoadF16 {
    static __m256 full(const void* row, int64_t c) { return load_f16x8(static_cast<const uint16_t*>(row) + c); }
    static __m256 part(const void* row, int64_t c, int64_t n) {
        uint16_t tmp[8] = {};
        std::memcpy(tmp, static_cast<const uint16_t*>(row) + c, size_t(n) * 2);
        return load_f16x8(tmp);
    }
};
struct LoadBF16 {
    static __m256 full(const void* row, int64_t c) { return load_bf16x8(static_cast<const uint16_t*>(row) + c); }
    static __m256 part(const void* row, int64_t c, int64_t n) {
        uint16_t tmp[8] = {};
        std::memcpy(tmp, static_cast<const uint16_t*>(row) + c, size_t(n) * 2);
        return load_bf16x8(tmp);
    }
};

// y[t0 + j, r0 + i] for i < R rows, j < T tokens: each weight vector loaded once, used T times.
template <class Load, int R, int T>
void rows_tokens(const MatrixView& w, const float* x, float* y, int64_t r0, int64_t t0) {
    const int64_t cols = w.cols;
    const auto* base = static_cast<const uint8_t*>(w.data);
    const void* row[R];
    for (int i = 0; i < R; ++i) row[i] = base + (r0 + i) * w.row_bytes;
    const float* xt[T];
    for (int j = 0; j < T; ++j) xt[j] = x + (t0 + j) * cols;
    __m256 total[R][T];
    for (int i = 0; i < R; ++i)
        for (int j = 0; j < T; ++j) total[i][j] = _mm256_setzero_ps();
    for (int64_t c0 = 0; c0 < cols; c0 += 32) {
        const int64_t c_end = min_i64(c0 + 32, cols);
        __m256 part[R][T];
        for (int i = 0; i < R; ++i)
            for (int j = 0; j < T; ++j) part[i][j] = _mm256_setzero_ps();
        for (int64_t c = c0; c < c_end; c += 8) {
            const int64_t n = c_end - c;
            __m256 xv[T], wv[R];
            for (int j = 0; j < T; ++j) xv[j] = n >= 8 ? _mm256_loadu_ps(xt[j] + c) : load_partial(xt[j] + c, n);
            for (int i = 0; i < R; ++i) wv[i] = n >= 8 ? Load::full(row[i], c) : Load::part(row[i], c, n);
            for (int i = 0; i < R; ++i)
                for (int j = 0; j < T; ++j) part[i][j] = _mm256_fmadd_ps(wv[i], xv[j], part[i][j]);
        }
        for (int i = 0; i < R; ++i)
            for (int j = 0; j < T; ++j) total[i][j] = _mm256_add_ps(total[i][j], part[i][j]);
    }
    const int64_t rows = w.rows;
    for (int i = 0; i < R; ++i)
        for (int j = 0; j < T; ++j) y[(t0 + j) * rows + r0 + i] = hsum(total[i][j]);
}

template <class Load>
void matmul_typed(const MatrixView& w, const float* x, float* y, int64_t n_tokens) {
    const int64_t rows = w.rows;
    if (n_tokens == 1) {
        // Decode: 4 rows per step share each x load.
        const int64_t groups = rows / 4;
#pragma omp parallel for schedule(static) if (rows * w.cols > kParallelMinMacs)
        for (int64_t g = 0; g < groups; ++g) rows_tokens<Load, 4, 1>(w, x, y, 4 * g, 0);
        for (int64_t r = 4 * groups; r < rows; ++r) rows_tokens<Load, 1, 1>(w, x, y, r, 0);
        return;
    }
    // Several tokens: pairs of rows x groups of 4 tokens (8 accumulators).
    const int64_t pairs = (rows + 1) / 2;
#pragma omp parallel for schedule(static) if (rows * w.cols * n_tokens > kParallelMinMacs)
    for (int64_t p = 0; p < pairs; ++p) {
        const int64_t r0 = 2 * p;
        const bool two = r0 + 1 < rows;
        int64_t t0 = 0;
        for (; t0 + 4 <= n_tokens; t0 += 4) {
            if (two)
                rows_tokens<Load, 2, 4>(w, x, y, r0, t0);
            else
                rows_tokens<Load, 1, 4>(w, x, y, r0, t0);
        }
        for (; t0 < n_tokens; ++t0) {
            if (two)
                rows_tokens<Load, 2, 1>(w, x, y, r0, t0);
            else
                rows_tokens<Load, 1, 1>(w, x, y, r0, t0);
        }
    }
}

// ---------------------------------------------------------------- tile decode (oneDNN path)

inline void store_cols(float* dst, __m256 v, int64_t n) {
    if (n >= 8)
        _mm256_storeu_ps(dst, v);
    else if (n > 0)
        store_partial(dst, v, n);
}

void decode_row_q4(const BlockQ4* row, int64_t cols, float* out) {
    const __m256i low = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8);
    for (int64_t b = 0; b * 32 < cols; ++b) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row[b].q));
        const __m256i nib = _mm256_and_si256(
            _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1), low);
        const __m256i q = _mm256_sub_epi8(nib, eight);  // [-8, 7], element order
        const __m256 d = _mm256_set1_ps(f16_scalar(row[b].scale_f16));
        const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
        const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        for (int i = 0; i < 4; ++i) {
            const __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[i])), d);
            store_cols(out + b * 32 + 8 * i, f, cols - b * 32 - 8 * i);
        }
    }
}

void decode_row_q8(const BlockQ8* row, int64_t cols, float* out) {
    for (int64_t b = 0; b * 32 < cols; ++b) {
        const __m256 d = _mm256_set1_ps(f16_scalar(row[b].scale_f16));
        for (int i = 0; i < 4; ++i) {
            const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row[b].q + 8 * i));
            const __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d);
            store_cols(out + b * 32 + 8 * i, f, cols - b * 32 - 8 * i);
        }
    }
}

template <class Load>
void decode_row_plain(const void* row, int64_t cols, float* out) {
    for (int64_t c = 0; c < cols; c += 8) {
        const int64_t n = cols - c;
        store_cols(out + c, n >= 8 ? Load::full(row, c) : Load::part(row, c, n), n);
    }
}

}  // namespace

void matmul_float(const MatrixView& w, const float* x, float* y, int64_t n_tokens) {
    switch (w.dtype) {
        case DType::F32: return matmul_typed<LoadF32>(w, x, y, n_tokens);
        case DType::F16: return matmul_typed<LoadF16>(w, x, y, n_tokens);
        case DType::BF16: return matmul_typed<LoadBF16>(w, x, y, n_tokens);
        default: break;
    }
    // Not a float dtype: a caller bug (kernels_avx2.cpp routes by dtype). Loudly wrong output.
    for (int64_t i = 0; i < n_tokens * w.rows; ++i) y[i] = __builtin_nanf("");
}

void decode_rows_f32(const MatrixView& w, int64_t r0, int64_t n_rows, float* out /* [n_rows, ld] */, int64_t ld) {
    const auto* base = static_cast<const uint8_t*>(w.data);
    for (int64_t i = 0; i < n_rows; ++i) {
        const uint8_t* row = base + (r0 + i) * w.row_bytes;
        float* dst = out + i * ld;
        switch (w.dtype) {
            case DType::Q4: decode_row_q4(reinterpret_cast<const BlockQ4*>(row), w.cols, dst); break;
            case DType::Q8: decode_row_q8(reinterpret_cast<const BlockQ8*>(row), w.cols, dst); break;
            case DType::F16: decode_row_plain<LoadF16>(row, w.cols, dst); break;
            case DType::BF16: decode_row_plain<LoadBF16>(row, w.cols, dst); break;
            case DType::F32: std::memcpy(dst, row, size_t(w.cols) * 4); break;
            default:
                for (int64_t c = 0; c < w.cols; ++c) dst[c] = __builtin_nanf("");
                break;
        }
    }
}

}  // namespace ember::avx2
