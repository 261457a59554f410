// The group kernels with AVX-512 VNNI (512-bit VPDPBUSD): two interleaved-8 groups (16
// rows) per ZMM register. Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni (on
// top of the AVX2 flags); matmul_quant_avx2.cpp calls them only when cpu_features()
// reports AVX-512 VNNI with the OS saving ZMM state.
//
// The layout stays interleaved-8 (kernels/interleaved8.h): a ZMM's low half holds a block
// vector of group g, its high half the same vector of group g + 1, so lane i is row i of
// the pair and one broadcast activation chunk feeds 16 rows. On CPUs with full-width
// 512-bit units (AMD Zen 5, Intel server cores) that doubles the multiply-adds per
// instruction; the two half loads per vector are shared by the pass's tokens.
//
// Per lane the arithmetic is quant_group_vnni.cpp's exactly (the same exact int32 block
// dots, one conversion, scale and FMA per block and token in block order), so the results
// are identical to the AVX2 and AVX-VNNI kernels.
// GCC 12's AVX-512 intrinsics (_mm512_inserti64x4, _mm512_cvtph_ps, _mm512_cvtepi32_ps)
// start from a deliberately undefined register and trip -Wmaybe-uninitialized inside the
// system header; the values are fully written.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/interleaved8.h"
#include "kernels/quant_group_avx2.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

// Vector `at` (32 bytes at byte offset `at` of a block) of group 0 in lanes 0..7 and of
// group 1 in lanes 8..15.
inline __m512i load_pair(const uint8_t* blk0, const uint8_t* blk1, int at) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(load32(blk0 + at)), load32(blk1 + at), 1);
}

// The 16 rows' f16 scales (8 at the start of each group's block) as f32.
inline __m512 load_pair_scales(const uint8_t* blk0, const uint8_t* blk1) {
    const __m128i s0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk0));
    const __m128i s1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk1));
    return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(s0), s1, 1));
}

// 4 bytes at p repeated in all 16 lanes (folds into VPDPBUSD as an embedded broadcast).
inline __m512i bcast4x16(const void* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

inline __m512 fma_lanes16(__m512i lanes, __m512 scale, __m512 acc) {
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes), scale, acc);
}

// q4: unsigned nibbles times signed activations, q4_offset folding in the -8 (as in
// quant_group_vnni.cpp).
template <int T>
void q4_pair(const uint8_t* g0, const uint8_t* g1, const QuantizedActs& x, int64_t t0, __m512 acc[T]) {
    const __m512i low = _mm512_set1_epi8(0x0f);
    const int64_t nb = x.n_blocks, row_q = nb * 32;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk0 = g0 + b * il8::kQ4GroupBlockBytes;
        const uint8_t* blk1 = g1 + b * il8::kQ4GroupBlockBytes;
        __m512i lo[4], hi[4];
        for (int v = 0; v < 4; ++v) {
            const __m512i q = load_pair(blk0, blk1, 16 + 32 * v);
            lo[v] = _mm512_and_si512(q, low);
            hi[v] = _mm512_and_si512(_mm512_srli_epi16(q, 4), low);
        }
        const __m512 dw = load_pair_scales(blk0, blk1);
        for (int j = 0; j < T; ++j) {
            const int8_t* xq = x.q + (t0 + j) * row_q + b * 32;
            const int64_t tb = (t0 + j) * nb + b;
            __m512i s0 = _mm512_set1_epi32(x.q4_offset[tb]), s1 = _mm512_setzero_si512();
            for (int v = 0; v < 4; ++v) {
                s0 = _mm512_dpbusd_epi32(s0, lo[v], bcast4x16(xq + 4 * v));
                s1 = _mm512_dpbusd_epi32(s1, hi[v], bcast4x16(xq + 16 + 4 * v));
            }
            acc[j] = fma_lanes16(_mm512_add_epi32(s0, s1), _mm512_mul_ps(dw, _mm512_set1_ps(x.d[tb])), acc[j]);
        }
    }
}

// q8: activations as q + 128 (x.qu) times the signed weights, minus 128 * sum(w) per row
// (as in quant_group_vnni.cpp). The 8 weight vectors are assembled in registers once per
// block and shared by the pass's tokens.
template <int T>
void q8_pair(const uint8_t* g0, const uint8_t* g1, const QuantizedActs& x, int64_t t0, __m512 acc[T]) {
    const __m512i u128 = _mm512_set1_epi8(static_cast<char>(0x80));
    const int64_t nb = x.n_blocks, row_q = nb * 32;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk0 = g0 + b * il8::kQ8GroupBlockBytes;
        const uint8_t* blk1 = g1 + b * il8::kQ8GroupBlockBytes;
        __m512i w[8];
        __m512i wsum128 = _mm512_setzero_si512();
        for (int v = 0; v < 8; ++v) {
            w[v] = load_pair(blk0, blk1, 16 + 32 * v);
            wsum128 = _mm512_dpbusd_epi32(wsum128, u128, w[v]);
        }
        const __m512i corr = _mm512_sub_epi32(_mm512_setzero_si512(), wsum128);
        const __m512 dw = load_pair_scales(blk0, blk1);
        for (int j = 0; j < T; ++j) {
            const uint8_t* xu = x.qu + (t0 + j) * row_q + b * 32;
            __m512i s0 = corr, s1 = _mm512_setzero_si512();
            for (int v = 0; v < 8; v += 2) {
                s0 = _mm512_dpbusd_epi32(s0, bcast4x16(xu + 4 * v), w[v]);
                s1 = _mm512_dpbusd_epi32(s1, bcast4x16(xu + 4 * v + 4), w[v + 1]);
            }
            const int64_t tb = (t0 + j) * nb + b;
            acc[j] = fma_lanes16(_mm512_add_epi32(s0, s1), _mm512_mul_ps(dw, _mm512_set1_ps(x.d[tb])), acc[j]);
        }
    }
}

// Runs body<T> for T = n on zeroed accumulators, then stores rows [r0, r0 + 16) of tokens
// [t0, t0 + n) to y [n_tokens, rows].
template <class Body>
void pair_pass_n(int n, int64_t t0, int64_t r0, int64_t rows, float* y, Body&& body) {
    __m512 acc[kGroupPassTokens];
    for (__m512& a : acc) a = _mm512_setzero_ps();
    switch (n) {
        case 4: body.template operator()<4>(acc); break;
        case 3: body.template operator()<3>(acc); break;
        case 2: body.template operator()<2>(acc); break;
        default: body.template operator()<1>(acc); break;
    }
    for (int j = 0; j < n; ++j) _mm512_storeu_ps(y + (t0 + j) * rows + r0, acc[j]);
}

static_assert(kGroupPassTokens == 4, "pair_pass_n unrolls token counts 1..4");

}  // namespace

void pair_pass_q4_avx512(const uint8_t* g0, const uint8_t* g1, const QuantizedActs& x, int64_t t0, int n, int64_t r0,
                         int64_t rows, float* y) {
    pair_pass_n(n, t0, r0, rows, y, [&]<int T>(__m512* acc) { q4_pair<T>(g0, g1, x, t0, acc); });
}

void pair_pass_q8_avx512(const uint8_t* g0, const uint8_t* g1, const QuantizedActs& x, int64_t t0, int n, int64_t r0,
                         int64_t rows, float* y) {
    pair_pass_n(n, t0, r0, rows, y, [&]<int T>(__m512* acc) { q8_pair<T>(g0, g1, x, t0, acc); });
}

}  // namespace ember::avx2
