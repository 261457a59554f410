// The interleaved-8 layout (WeightLayout::kInterleaved8) of q4 and q8 matrices: what the
// AVX2 table repacks them into at load time, so its decode kernels load several rows per
// instruction and convert the scales of 8 rows at once (kernels/matvec_quant_avx2.cpp).
//
// Rows [0, 8 * n_groups) form groups of 8 (n_groups = rows / 8); group g takes the same
// bytes the file gives rows 8g..8g+7 (8 * row_bytes, starting at g * 8 * row_bytes), laid
// out block column by block column, group_block_bytes(dtype) bytes per 32-column block b:
//
//   + [0, 16)          f16 scales of rows 0..7
//   q4 (144 bytes):    + 16 + 32 k: row k's 16 quant bytes, then row k+4's   (k < 4)
//                      so one 32-byte load holds rows k and k+4
//   q8 (272 bytes):    + 16 + 32 r: row r's 32 quant bytes                   (r < 8)
//
// Quant bytes keep the BlockQ4 / BlockQ8 order. Rows past the last full group keep the
// file layout at r * row_bytes. The total size is unchanged: rows * row_bytes.
#pragma once
#include <cstdint>

#include "kernels/kernels.h"

namespace ember::il8 {

constexpr int kGroupRows = 8;
constexpr int64_t kQ4GroupBlockBytes = 144;  // 8 x (2 scale + 16 quant bytes)
constexpr int64_t kQ8GroupBlockBytes = 272;  // 8 x (2 scale + 32 quant bytes)

// Kept out of line so ISA-specific files include no weak definitions
// (tests/kernels/check_isa_isolation.py).
int64_t group_block_bytes(DType dtype);
int64_t scale_offset(int row_in_group);               // 2 r
int64_t quant_offset(DType dtype, int row_in_group);  // see the table above

// Whether repack() takes this matrix: Q4 or Q8, file layout, at least 8 rows.
bool can_repack(const MatrixView& w);
// The repack; out may be w.data (in place). Returns the kInterleaved8 view of `out`.
MatrixView repack(const MatrixView& w, void* out);
// Row `row` of a kInterleaved8 matrix in the file layout: row_bytes bytes to out.
void copy_row(const MatrixView& packed, int64_t row, void* out);
// The inverse of repack, for tests: the file-layout bytes of the whole matrix to out.
void unpack(const MatrixView& packed, void* out);

}  // namespace ember::il8
