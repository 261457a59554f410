// Internal to the AVX2 q8/q4 matmul files (matvec_quant_avx2.cpp, gemm_quant_avx2.cpp,
// gemm_quant_vnni.cpp): the re-laid-out weight tile of the batched kernels and the entry
// points the files call across. No SIMD types here.
#pragma once
#include <cstdint>

#include "kernels/kernels_avx2.h"

namespace ember::avx2 {

constexpr int kTileRows = 8;  // weight rows per tile: one per 32-bit lane of a YMM register

// One 8-row tile of a q8/q4 matrix re-laid out for broadcast-activation products.
// Block b of the tile:
//   q4: 4 x 32 bytes; vector g holds bytes [4g, 4g+4) of each row's block (row r at
//       4r): low nibbles are elements 4g..4g+3, high nibbles 16+4g..16+4g+3.
//   q8: 8 x 32 bytes; vector g holds elements [4g, 4g+4) of each row.
//   scale: 8 f32, one per row (0 for rows past the matrix end, whose weights are zero).
struct TileLayout {
    int64_t vec_per_block;  // 4 (q4) or 8 (q8)
    uint8_t* q;             // [n_blocks][vec_per_block][32], 32-byte aligned
    float* scale;           // [n_blocks][8], 32-byte aligned
    // q8 for the AVX-VNNI tile only (else nullptr): 128 * the sum of each row's block
    // weights, [n_blocks][8], 32-byte aligned. VPDPBUSD needs one unsigned operand, so that
    // tile multiplies x + 128 by w and subtracts this.
    int32_t* wsum128 = nullptr;
};

// One token (matvec_quant_avx2.cpp): y[rows]. avx_vnni: the AVX-VNNI group kernel for
// q4 kInterleaved8 matrices (only if cpu_features().avx_vnni; same results).
void matvec_quant(const MatrixView& w, const QuantizedActs& x, float* y, bool avx_vnni);

// A kInterleaved8 matrix times a few tokens (batched decode), y [n_tokens, rows], by the
// single-token group kernels with each group's weights reused from L1: no tile packing,
// and each token's result equals its single-token matvec exactly.
void matvec_quant_tokens(const MatrixView& w, const QuantizedActs& x, float* y, int64_t n_tokens, bool avx_vnni);

// One 8-row group of a q4 kInterleaved8 matrix times one token, y8[8], with VPDPBUSD
// (gemm_quant_vnni.cpp). Integer block dots are exact, so it equals the AVX2 version.
void matvec_q4i_group_vnni(const uint8_t* group, const QuantizedActs& x, float* y8);

// A q4 tile times tokens [t0, t0 + n) (n <= 4), written to y[t, r0 .. r0 + 8) (rows past
// `rows` are not written). gemm_quant_vnni.cpp: VPDPBUSD (AVX-VNNI) in place of the AVX2
// maddubs / madd pair; integer sums are exact either way, so the results are identical.
// The same for a q8 tile (tile.wsum128 filled): identical results to the AVX2 q8 tile.
void tile_pass_q8_vnni(const TileLayout& tile, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows,
                       float* y);
void tile_pass_q4_vnni(const TileLayout& tile, const QuantizedActs& x, int64_t t0, int n, int64_t r0, int64_t rows,
                       float* y);

}  // namespace ember::avx2
