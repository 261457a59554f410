// Q4 / Q8 weights x one token's int8-quantized activations (decode), AVX2.
// Compiled with -mavx2 -mfma -mf16c.
//
// Rows in the file layout, 4 rows per step sharing each activation load; memory bound, so
// the work per 32-block is kept small (one conversion and one FMA per block for 4 rows)
// and the next rows are prefetched. Per 32-block the integer dot product is exact (int16
// pair sums, then int32); it is scaled by d_w * d_x and accumulated in f32.
#include "kernels/gemm_quant_avx2.h"
#include "kernels/interleaved8.h"
#include "kernels/quant.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

constexpr int64_t kParallelMinMacs = 32768;  // below this a matmul stays on one thread

// Decode streams each weight byte from DRAM once. Rows are short (a few hundred bytes), too
// short for the hardware prefetcher to ramp up on each, so the kernel asks for the same
// spot of the next row group (`ahead` bytes on) while it works on this one.
inline void prefetch_ahead(const void* p, int64_t ahead) {
    _mm_prefetch(static_cast<const char*>(p) + ahead, _MM_HINT_T0);
}

// Q4 block -> 32 unsigned nibbles in element order: low nibbles are elements 0..15, high
// 16..31. The 16 bytes are loaded into both halves, the upper half shifted right by 4.
inline __m256i q4_nibbles(const BlockQ4& b) {
    const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.q)));
    return _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

// One Q4 row times one token (the rows left over after groups of 4).
// dot(n - 8, q) = dot(n, q) - 8 sum(q): maddubs takes the unsigned nibbles directly (pair
// sums <= 2*15*127, no saturation).
float matvec_q4_row(const BlockQ4* row, const QuantizedActs& x) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < x.n_blocks; ++b) {
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * 32));
        const __m256i corr = _mm256_zextsi128_si256(_mm_cvtsi32_si128(-8 * x.sum[b]));  // lane 0 only
        const __m256i prod = _mm256_madd_epi16(_mm256_maddubs_epi16(q4_nibbles(row[b]), xq), ones);
        acc = fma_lanes(_mm256_add_epi32(prod, corr), _mm256_set1_ps(f16_scalar(row[b].scale_f16) * x.d[b]), acc);
    }
    return hsum(acc);
}

// The f16 scales of block b of four rows, times dx, in lanes [0..3 | 0..3] (the order of
// the folded dots below).
template <class Block>
__m256 four_row_scales(const Block* const row[4], int64_t b, float dx) {
    __m128i h = _mm_cvtsi32_si128(row[0][b].scale_f16);
    h = _mm_insert_epi16(h, row[1][b].scale_f16, 1);
    h = _mm_insert_epi16(h, row[2][b].scale_f16, 2);
    h = _mm_insert_epi16(h, row[3][b].scale_f16, 3);
    const __m128 s4 = _mm_mul_ps(_mm_cvtph_ps(h), _mm_set1_ps(dx));
    return _mm256_set_m128(s4, s4);
}

// Rows [r0, r0 + 4) of a Q4 matrix times one token. Per block, the four rows' 8-lane
// integer dots are folded by horizontal adds into one register (lanes 0-3: rows 0-3,
// first half of the block; lanes 4-7: the same rows, second half), so one conversion, one
// correction and one FMA with the four rows' scales serve all four rows.
void matvec_q4_4rows(const MatrixView& w, const QuantizedActs& x, int64_t r0, float* y) {
    const auto* base = static_cast<const uint8_t*>(w.data);
    const BlockQ4* row[4];
    for (int i = 0; i < 4; ++i) row[i] = reinterpret_cast<const BlockQ4*>(base + (r0 + i) * w.row_bytes);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < x.n_blocks; ++b) {
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * 32));
        __m256i p[4];
        for (int i = 0; i < 4; ++i) {
            prefetch_ahead(&row[i][b], 8 * w.row_bytes);
            p[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(q4_nibbles(row[i][b]), xq), ones);
        }
        __m256i dot = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
        dot = _mm256_add_epi32(dot, _mm256_setr_epi32(-8 * x.sum[b], -8 * x.sum[b], -8 * x.sum[b], -8 * x.sum[b], 0, 0, 0, 0));
        acc = fma_lanes(dot, four_row_scales(row, b, x.d[b]), acc);
    }
    _mm_storeu_ps(y + r0, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
}

// Rows [8g, 8g + 8) of a q4 kInterleaved8 matrix (kernels/interleaved8.h) times one
// token: y8[8]. Each 32-byte load holds rows k and k+4 of a block; against x's block as
// [x0..15 | x0..15] (low nibbles) and [x16..31 | x16..31] (high nibbles) one maddubs pair
// serves both rows. Two levels of hadd fold the four pair registers into [r0..r3 | r4..r7],
// the order of the 8 scales, so one conversion and one FMA finish the 8 rows' block.
// About half the instructions per weight byte of matvec_q4_4rows, with one sequential
// stream per thread for the hardware prefetcher.
void matvec_q4i_group(const uint8_t* group, const QuantizedActs& x, float* y8) {
    const __m256i low = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < x.n_blocks; ++b) {
        const uint8_t* blk = group + b * il8::kQ4GroupBlockBytes;
        const __m256i xlo = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.q + b * 32)));
        const __m256i xhi =
            _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.q + b * 32 + 16)));
        __m256i p[4];
        for (int k = 0; k < 4; ++k) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * k));
            const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
            // int16 sums: 2 products each <= 15 * 127 per maddubs lane, two added: |s| <= 7620.
            p[k] = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, xlo), _mm256_maddubs_epi16(hi, xhi)), ones);
        }
        __m256i dot = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
        dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(8 * x.sum[b]));  // dot(n - 8, q) = dot(n, q) - 8 sum(q)
        const __m256 scale = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk))),
                                           _mm256_set1_ps(x.d[b]));
        acc = fma_lanes(dot, scale, acc);
    }
    _mm256_storeu_ps(y8, acc);
}

// Q8: maddubs needs one unsigned operand, so |w| times q with w's sign moved onto q
// (pair sums <= 2*127*127 fit int16). Same shapes as the q4 pair above.
inline __m256i q8_dot(const BlockQ8& blk, __m256i xq, __m256i ones) {
    const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.q));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq)), ones);
}

float matvec_q8_row(const BlockQ8* row, const QuantizedActs& x) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < x.n_blocks; ++b) {
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * 32));
        acc = fma_lanes(q8_dot(row[b], xq, ones), _mm256_set1_ps(f16_scalar(row[b].scale_f16) * x.d[b]), acc);
    }
    return hsum(acc);
}

void matvec_q8_4rows(const MatrixView& w, const QuantizedActs& x, int64_t r0, float* y) {
    const auto* base = static_cast<const uint8_t*>(w.data);
    const BlockQ8* row[4];
    for (int i = 0; i < 4; ++i) row[i] = reinterpret_cast<const BlockQ8*>(base + (r0 + i) * w.row_bytes);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < x.n_blocks; ++b) {
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * 32));
        __m256i p[4];
        for (int i = 0; i < 4; ++i) {
            prefetch_ahead(&row[i][b], 8 * w.row_bytes);
            p[i] = q8_dot(row[i][b], xq, ones);
        }
        const __m256i dot = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
        acc = fma_lanes(dot, four_row_scales(row, b, x.d[b]), acc);
    }
    _mm_storeu_ps(y + r0, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
}

template <class Block>
void matvec(const MatrixView& w, const QuantizedActs& x, float* y, void (*four_rows)(const MatrixView&, const QuantizedActs&, int64_t, float*),
            float (*one_row)(const Block*, const QuantizedActs&)) {
    // Static: each thread streams one contiguous range of rows, which the prefetch-ahead
    // above relies on (dynamic chunks measured 40% slower end to end).
    const int64_t groups = w.rows / 4;
#pragma omp parallel for schedule(static) if (w.rows * w.cols > kParallelMinMacs)
    for (int64_t g = 0; g < groups; ++g) four_rows(w, x, 4 * g, y);
    const auto* base = static_cast<const uint8_t*>(w.data);
    for (int64_t r = 4 * groups; r < w.rows; ++r) y[r] = one_row(reinterpret_cast<const Block*>(base + r * w.row_bytes), x);
}

// Rows [8g, 8g + 8) of a q8 kInterleaved8 matrix times one token: y8[8]. Each row's
// 32 quant bytes are one load; as in q8_dot, |w| times x with w's signs moved onto x. The
// eight rows' int32 lanes fold into [r0..r7] (hadd within 128-bit halves, then the
// halves added), so one conversion and one FMA with the 8 scales finish the block.
void matvec_q8i_group(const uint8_t* group, const QuantizedActs& x, float* y8) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < x.n_blocks; ++b) {
        const uint8_t* blk = group + b * il8::kQ8GroupBlockBytes;
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * 32));
        __m256i p[8];
        for (int r = 0; r < 8; ++r) {
            const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * r));
            p[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq)), ones);
        }
        // a = [r0..r3 sums of the low 128-bit halves | r0..r3 of the high], c the same for r4..r7.
        const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
        const __m256i c = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
        const __m256i dot =
            _mm256_add_epi32(_mm256_permute2x128_si256(a, c, 0x20), _mm256_permute2x128_si256(a, c, 0x31));
        const __m256 scale = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk))),
                                           _mm256_set1_ps(x.d[b]));
        acc = fma_lanes(dot, scale, acc);
    }
    _mm256_storeu_ps(y8, acc);
}

// Token t's activations as a one-token QuantizedActs.
QuantizedActs token_acts(const QuantizedActs& x, int64_t t) {
    return {x.q + t * x.n_blocks * 32, x.d + t * x.n_blocks, x.sum + t * x.n_blocks, x.n_blocks};
}

// A kInterleaved8 matrix times n_tokens tokens, y [n_tokens, rows]: groups of 8 rows split
// statically over the threads (each thread streams one contiguous range); each group's
// bytes (a few KB) are read from memory once and from L1 for every further token. Then
// the file-layout rows after the last group. Each token gets exactly the single-token
// arithmetic, so a batched decode step equals each sequence's own step bit for bit.
void matvec_interleaved(const MatrixView& w, const QuantizedActs& x, float* y, int64_t n_tokens, bool avx_vnni) {
    const int64_t n_groups = w.rows / il8::kGroupRows, group_bytes = il8::kGroupRows * w.row_bytes;
    const auto* base = static_cast<const uint8_t*>(w.data);
    const bool q4 = w.dtype == DType::Q4;
#pragma omp parallel for schedule(static) if (w.rows * w.cols * n_tokens > kParallelMinMacs)
    for (int64_t g = 0; g < n_groups; ++g) {
        const uint8_t* group = base + g * group_bytes;
        for (int64_t t = 0; t < n_tokens; ++t) {
            const QuantizedActs xt = token_acts(x, t);
            float* y8 = y + t * w.rows + g * il8::kGroupRows;
            if (!q4)
                matvec_q8i_group(group, xt, y8);
            else if (avx_vnni)
                matvec_q4i_group_vnni(group, xt, y8);
            else
                matvec_q4i_group(group, xt, y8);
        }
    }
    for (int64_t t = 0; t < n_tokens; ++t) {
        const QuantizedActs xt = token_acts(x, t);
        for (int64_t r = n_groups * il8::kGroupRows; r < w.rows; ++r) {
            const uint8_t* row = base + r * w.row_bytes;
            y[t * w.rows + r] = q4 ? matvec_q4_row(reinterpret_cast<const BlockQ4*>(row), xt)
                                   : matvec_q8_row(reinterpret_cast<const BlockQ8*>(row), xt);
        }
    }
}

}  // namespace

void matvec_quant(const MatrixView& w, const QuantizedActs& x, float* y, bool avx_vnni) {
    if (w.layout == WeightLayout::kInterleaved8)
        matvec_interleaved(w, x, y, 1, avx_vnni);
    else if (w.dtype == DType::Q4)
        matvec<BlockQ4>(w, x, y, matvec_q4_4rows, matvec_q4_row);
    else
        matvec<BlockQ8>(w, x, y, matvec_q8_4rows, matvec_q8_row);
}

void matvec_quant_tokens(const MatrixView& w, const QuantizedActs& x, float* y, int64_t n_tokens, bool avx_vnni) {
    matvec_interleaved(w, x, y, n_tokens, avx_vnni);
}

}  // namespace ember::avx2
