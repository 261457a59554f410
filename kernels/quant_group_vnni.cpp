// The group kernels with AVX-VNNI (VPDPBUSD on YMM: u8 x s8 products summed in fours into
// int32), the one piece of the AVX2 table that needs more than AVX2. Compiled with
// -mavx2 -mfma -mf16c -mavxvnni; matmul_quant_avx2.cpp calls them only when cpu_features()
// reports AVX-VNNI (Intel Alder Lake+, AMD Zen 4+), whose YMM state the AVX2 check covers.
//
// Same layout, loop order and arithmetic as quant_group_avx2.cpp: exact int32 block dots
// (here without the int16 stage), then one conversion, scale and FMA per block and token,
// so the results are identical. One fused instruction replaces maddubs + add (+ madd).
#include "kernels/interleaved8.h"
#include "kernels/quant_group_avx2.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

template <int T>
void q4_group(const uint8_t* group, const QuantizedActs& x, int64_t t0, __m256 acc[T]) {
    const int64_t nb = x.n_blocks, row_q = nb * 32;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = group + b * il8::kQ4GroupBlockBytes;
        __m256i lo[4], hi[4];
        unpack_q4_group_block(blk, lo, hi);
        const __m256 dw = load_f16x8(reinterpret_cast<const uint16_t*>(blk));  // the 8 rows' scales
        for (int j = 0; j < T; ++j) {
            const int8_t* xq = x.q + (t0 + j) * row_q + b * 32;
            const int64_t tb = (t0 + j) * nb + b;
            // Two accumulation chains (low / high nibbles) halve the dependent latency;
            // dot(n - 8, q) = dot(n, q) + q4_offset starts one chain at q4_offset.
            __m256i s0 = _mm256_set1_epi32(x.q4_offset[tb]), s1 = _mm256_setzero_si256();
            for (int v = 0; v < 4; ++v) {
                s0 = _mm256_dpbusd_avx_epi32(s0, lo[v], bcast4(xq + 4 * v));
                s1 = _mm256_dpbusd_avx_epi32(s1, hi[v], bcast4(xq + 16 + 4 * v));
            }
            acc[j] = fma_lanes(_mm256_add_epi32(s0, s1), _mm256_mul_ps(dw, _mm256_set1_ps(x.d[tb])), acc[j]);
        }
    }
}

// q8: VPDPBUSD multiplies unsigned by signed bytes, so it takes each token's activations
// as q + 128 (x.qu) times the signed weights and subtracts 128 * sum(w) per row, computed
// once per block for all the pass's tokens: (q + 128) . w - 128 sum(w) = q . w exactly,
// the same int32 the AVX2 kernel computes. The weights are memory operands (L1 after the
// first token), so a token costs one broadcast and one VPDPBUSD per 4 columns.
template <int T>
void q8_group(const uint8_t* group, const QuantizedActs& x, int64_t t0, __m256 acc[T]) {
    const __m256i u128 = _mm256_set1_epi8(static_cast<char>(0x80));
    const int64_t nb = x.n_blocks, row_q = nb * 32;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = group + b * il8::kQ8GroupBlockBytes;
        __m256i wsum128 = _mm256_setzero_si256();
        for (int v = 0; v < 8; ++v) wsum128 = _mm256_dpbusd_avx_epi32(wsum128, u128, load32(blk + 16 + 32 * v));
        const __m256i corr = _mm256_sub_epi32(_mm256_setzero_si256(), wsum128);
        const __m256 dw = load_f16x8(reinterpret_cast<const uint16_t*>(blk));  // the 8 rows' scales
        for (int j = 0; j < T; ++j) {
            const int8_t* xu = reinterpret_cast<const int8_t*>(x.qu + (t0 + j) * row_q + b * 32);
            __m256i s0 = corr, s1 = _mm256_setzero_si256();  // two chains, as above
            for (int v = 0; v < 8; v += 2) {
                s0 = _mm256_dpbusd_avx_epi32(s0, bcast4(xu + 4 * v), load32(blk + 16 + 32 * v));
                s1 = _mm256_dpbusd_avx_epi32(s1, bcast4(xu + 4 * v + 4), load32(blk + 16 + 32 * v + 32));
            }
            const int64_t tb = (t0 + j) * nb + b;
            acc[j] = fma_lanes(_mm256_add_epi32(s0, s1), _mm256_mul_ps(dw, _mm256_set1_ps(x.d[tb])), acc[j]);
        }
    }
}

}  // namespace

void group_pass_q4_vnni(const uint8_t* group, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows,
                        float* y) {
    tile_pass_n(n, t0, r0, rows, y, [&]<int T>(__m256* acc) { q4_group<T>(group, x, t0, acc); });
}

void group_pass_q8_vnni(const uint8_t* group, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows,
                        float* y) {
    tile_pass_n(n, t0, r0, rows, y, [&]<int T>(__m256* acc) { q8_group<T>(group, x, t0, acc); });
}

}  // namespace ember::avx2
