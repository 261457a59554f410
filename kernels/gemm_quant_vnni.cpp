// The q4 GEMM tile with AVX-VNNI (VPDPBUSD on YMM: u8 x s8 products summed in fours into
// int32), the one piece of the AVX2 table that needs more than AVX2. Compiled with
// -mavx2 -mfma -mf16c -mavxvnni; gemm_quant_avx2.cpp calls it only when cpu_features()
// reports AVX-VNNI (Intel Alder Lake+, AMD Zen 4+), whose YMM state the AVX2 check covers.
//
// Same tile layout and arithmetic as tile_q4 in gemm_quant_avx2.cpp: exact int32 block
// dots (here without the int16 stage, so no saturation bound is needed), then one
// conversion, scale and FMA per block and token. One fused instruction replaces maddubs +
// add (+ madd), measured 25% faster on Zen 5.
#include "kernels/gemm_quant_avx2.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

template <int T>
void tile_q4(const TileLayout& tile, const QuantizedActs& x, int64_t t0, __m256 acc[T]) {
    const __m256i low = _mm256_set1_epi8(0x0f);
    const int64_t nb = x.n_blocks, row_q = nb * 32;
    for (int64_t b = 0; b < nb; ++b) {
        __m256i lo[4], hi[4];
        const uint8_t* wq = tile.q + b * 128;
        for (int g = 0; g < 4; ++g) {
            const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(wq + 32 * g));
            lo[g] = _mm256_and_si256(v, low);
            hi[g] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        }
        const __m256 dw = _mm256_load_ps(tile.scale + b * 8);
        for (int j = 0; j < T; ++j) {
            const int8_t* xq = x.q + (t0 + j) * row_q + b * 32;
            const int64_t tb = (t0 + j) * nb + b;
            // Two accumulation chains (low / high nibbles) halve the dependent latency;
            // dot(n - 8, q) = dot(n, q) - 8 sum(q) starts one chain at -8 sum(q).
            __m256i s0 = _mm256_set1_epi32(-8 * x.sum[tb]), s1 = _mm256_setzero_si256();
            for (int g = 0; g < 4; ++g) {
                s0 = _mm256_dpbusd_avx_epi32(s0, lo[g], bcast4(xq + 4 * g));
                s1 = _mm256_dpbusd_avx_epi32(s1, hi[g], bcast4(xq + 16 + 4 * g));
            }
            acc[j] = fma_lanes(_mm256_add_epi32(s0, s1), _mm256_mul_ps(dw, _mm256_set1_ps(x.d[tb])), acc[j]);
        }
    }
}

// q8: VPDPBUSD multiplies unsigned by signed bytes, so each token's activations are
// flipped to x + 128 (unsigned) and the tile's stored 128 * sum(w) per row is subtracted:
// (x + 128) . w - 128 sum(w) = x . w exactly, the same int32 the AVX2 q8 tile computes.
template <int T>
void tile_q8(const TileLayout& tile, const QuantizedActs& x, int64_t t0, __m256 acc[T]) {
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    const int64_t nb = x.n_blocks, row_q = nb * 32;
    for (int64_t b = 0; b < nb; ++b) {
        const auto* wq = reinterpret_cast<const __m256i*>(tile.q + b * 256);
        const __m256i corr = _mm256_sub_epi32(_mm256_setzero_si256(),
                                              _mm256_load_si256(reinterpret_cast<const __m256i*>(tile.wsum128 + b * 8)));
        const __m256 dw = _mm256_load_ps(tile.scale + b * 8);
        for (int j = 0; j < T; ++j) {
            const int8_t* xq = x.q + (t0 + j) * row_q + b * 32;
            const int64_t tb = (t0 + j) * nb + b;
            __m256i s0 = corr, s1 = _mm256_setzero_si256();  // two chains, as in tile_q4
            for (int g = 0; g < 8; g += 2) {
                s0 = _mm256_dpbusd_avx_epi32(s0, _mm256_xor_si256(bcast4(xq + 4 * g), flip), _mm256_load_si256(wq + g));
                s1 = _mm256_dpbusd_avx_epi32(s1, _mm256_xor_si256(bcast4(xq + 4 * g + 4), flip),
                                             _mm256_load_si256(wq + g + 1));
            }
            acc[j] = fma_lanes(_mm256_add_epi32(s0, s1), _mm256_mul_ps(dw, _mm256_set1_ps(x.d[tb])), acc[j]);
        }
    }
}

template <int T>
void pass_q8(const TileLayout& tile, const QuantizedActs& x, int64_t t0, int64_t r0, int64_t rows, float* y) {
    __m256 acc[T];
    for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
    tile_q8<T>(tile, x, t0, acc);
    store_tile(acc, T, t0, r0, rows, y);
}

template <int T>
void pass(const TileLayout& tile, const QuantizedActs& x, int64_t t0, int64_t r0, int64_t rows, float* y) {
    __m256 acc[T];
    for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
    tile_q4<T>(tile, x, t0, acc);
    store_tile(acc, T, t0, r0, rows, y);
}

}  // namespace

void matvec_q4i_group_vnni(const uint8_t* group, const QuantizedActs& x, float* y8) {
    // As matvec_q4i_group (matvec_quant_avx2.cpp), with VPDPBUSD summing the u8 x s8
    // products straight into int32 (no int16 stage).
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < x.n_blocks; ++b) {
        const uint8_t* blk = group + b * 144;  // il8::kQ4GroupBlockBytes
        const __m256i xlo = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.q + b * 32)));
        const __m256i xhi =
            _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.q + b * 32 + 16)));
        __m256i p[4];
        for (int k = 0; k < 4; ++k) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * k));
            const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
            p[k] = _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), lo, xlo), hi, xhi);
        }
        __m256i dot = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
        dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(8 * x.sum[b]));
        const __m256 scale = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk))),
                                           _mm256_set1_ps(x.d[b]));
        acc = fma_lanes(dot, scale, acc);
    }
    _mm256_storeu_ps(y8, acc);
}

void tile_pass_q4_vnni(const TileLayout& tile, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows,
                       float* y) {
    switch (n) {
        case 4: return pass<4>(tile, x, t0, r0, rows, y);
        case 3: return pass<3>(tile, x, t0, r0, rows, y);
        case 2: return pass<2>(tile, x, t0, r0, rows, y);
        default: return pass<1>(tile, x, t0, r0, rows, y);
    }
}

void tile_pass_q8_vnni(const TileLayout& tile, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows,
                       float* y) {
    switch (n) {
        case 4: return pass_q8<4>(tile, x, t0, r0, rows, y);
        case 3: return pass_q8<3>(tile, x, t0, r0, rows, y);
        case 2: return pass_q8<2>(tile, x, t0, r0, rows, y);
        default: return pass_q8<1>(tile, x, t0, r0, rows, y);
    }
}

}  // namespace ember::avx2
