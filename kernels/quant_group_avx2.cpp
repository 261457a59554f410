// The AVX2 group kernels: one 8-row group of an interleaved-8 q4 / q8 matrix
// (kernels/interleaved8.h) times up to 4 tokens. Compiled with -mavx2 -mfma -mf16c.
//
// A 32-byte load holds 4 consecutive weights of each of the 8 rows (one row per int32
// lane); a broadcast 4-byte chunk of a token's activations multiplies all 8 rows at once,
// so the 8 dot products accumulate in the 8 lanes of one register with no horizontal sums.
// Each block's weights are unpacked once and serve every token of the pass. With one token
// (decode) the kernel streams the weights; with more, it is bound by the multiply unit
// (maddubs + madd per 32 MACs of a row).
#include "kernels/interleaved8.h"
#include "kernels/quant_group_avx2.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

template <int T>
void q4_group(const uint8_t* group, const QuantizedActs& x, int64_t t0, __m256 acc[T]) {
    const __m256i ones = _mm256_set1_epi16(1);
    const int64_t nb = x.n_blocks, row_q = nb * 32;
    for (int64_t b = 0; b < nb; ++b) {
        // The block's weights unpacked once (8 registers), then each token in turn: one
        // int16 accumulator live at a time keeps everything in the 16 YMM registers.
        const uint8_t* blk = group + b * il8::kQ4GroupBlockBytes;
        __m256i lo[4], hi[4];
        unpack_q4_group_block(blk, lo, hi);
        const __m256 dw = load_f16x8(reinterpret_cast<const uint16_t*>(blk));  // the 8 rows' scales
        for (int j = 0; j < T; ++j) {
            const int8_t* xq = x.q + (t0 + j) * row_q + b * 32;
            __m256i s16 = _mm256_maddubs_epi16(lo[0], bcast4(xq));
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi[0], bcast4(xq + 16)));
            for (int v = 1; v < 4; ++v) {
                s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(lo[v], bcast4(xq + 4 * v)));
                s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi[v], bcast4(xq + 16 + 4 * v)));
            }
            const int64_t tb = (t0 + j) * nb + b;
            const __m256i dot = _mm256_add_epi32(_mm256_madd_epi16(s16, ones), _mm256_set1_epi32(x.q4_offset[tb]));
            acc[j] = fma_lanes(dot, _mm256_mul_ps(dw, _mm256_set1_ps(x.d[tb])), acc[j]);
        }
    }
}

// q8: maddubs needs one unsigned operand, so |w| (once per block) times x with w's signs
// moved onto it (per token); pair sums reach 2 * 128 * 127, so each goes to int32 before
// adding. Exact block dots.
template <int T>
void q8_group(const uint8_t* group, const QuantizedActs& x, int64_t t0, __m256 acc[T]) {
    const __m256i ones = _mm256_set1_epi16(1);
    const int64_t nb = x.n_blocks, row_q = nb * 32;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = group + b * il8::kQ8GroupBlockBytes;
        __m256i aw[8];
        for (int v = 0; v < 8; ++v) aw[v] = _mm256_abs_epi8(load32(blk + 16 + 32 * v));
        const __m256 dw = load_f16x8(reinterpret_cast<const uint16_t*>(blk));  // the 8 rows' scales
        for (int j = 0; j < T; ++j) {
            const int8_t* xq = x.q + (t0 + j) * row_q + b * 32;
            __m256i s32 = _mm256_setzero_si256();
            for (int v = 0; v < 8; ++v) {
                const __m256i xs = _mm256_sign_epi8(bcast4(xq + 4 * v), load32(blk + 16 + 32 * v));
                s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(_mm256_maddubs_epi16(aw[v], xs), ones));
            }
            const int64_t tb = (t0 + j) * nb + b;
            acc[j] = fma_lanes(s32, _mm256_mul_ps(dw, _mm256_set1_ps(x.d[tb])), acc[j]);
        }
    }
}

}  // namespace

void group_pass_q4(const uint8_t* group, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows, float* y) {
    tile_pass_n(n, t0, r0, rows, y, [&]<int T>(__m256* acc) { q4_group<T>(group, x, t0, acc); });
}

void group_pass_q8(const uint8_t* group, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows, float* y) {
    tile_pass_n(n, t0, r0, rows, y, [&]<int T>(__m256* acc) { q8_group<T>(group, x, t0, acc); });
}

}  // namespace ember::avx2
