// Internal to the AVX2 q4/q8 matmul files: the group kernels (quant_group_avx2.cpp,
// quant_group_vnni.cpp with AVX-VNNI, quant_group_avx512.cpp with AVX-512 VNNI), which
// matmul_quant_avx2.cpp runs over a matrix's groups for any number of tokens. No SIMD
// types here.
#pragma once
#include <cstdint>

#include "kernels/kernels_avx2.h"

namespace ember::avx2 {

constexpr int kGroupPassTokens = 4;  // tokens sharing each unpacked weight block

// One group of 8 rows of a q4 / q8 matrix in the interleaved-8 layout
// (kernels/interleaved8.h; q4: 144, q8: 272 bytes per 32-column block, x.n_blocks blocks)
// times tokens [t0, t0 + n), n <= kGroupPassTokens: y[t, r0 + i] for i < 8 and
// r0 + i < rows (y is [n_tokens, rows]). Per 32-block the integer dot product is exact;
// it is scaled by d_w * d_x and accumulated in f32, one FMA per block, in block order.
// So a token's result does not depend on n, t0 or the thread count, and the AVX-VNNI
// variants (VPDPBUSD in place of maddubs / madd) give identical results.
void group_pass_q4(const uint8_t* group, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows, float* y);
void group_pass_q8(const uint8_t* group, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows, float* y);
void group_pass_q4_vnni(const uint8_t* group, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows,
                        float* y);
void group_pass_q8_vnni(const uint8_t* group, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows,
                        float* y);

// AVX-512 VNNI: groups g0 and g1 (any two, e.g. consecutive groups of a repacked matrix)
// as rows [r0, r0 + 8) and [r0 + 8, r0 + 16) of y, in one pass; all 16 rows must exist
// (r0 + 16 <= rows). Same results as two group passes.
void pair_pass_q4_avx512(const uint8_t* g0, const uint8_t* g1, const QuantizedActs& x, int64_t t0, int n, int64_t r0,
                         int64_t rows, float* y);
void pair_pass_q8_avx512(const uint8_t* g0, const uint8_t* g1, const QuantizedActs& x, int64_t t0, int n, int64_t r0,
                         int64_t rows, float* y);

}  // namespace ember::avx2
