// The interleaved-8 layout (WeightLayout::kInterleaved8) of q4 and q8 matrices: what the
// AVX2 table repacks them into at load time. Its one family of int8 kernels
// (kernels/quant_group_*.cpp) reads it directly for any number of tokens: one 32-byte load
// holds 4 consecutive weights of each of 8 rows, one broadcast 4-byte chunk of a token's
// activations feeds all 8 rows, and the 8 rows' dot products land in the 8 int32 lanes of
// one register (no horizontal sums, nothing re-laid out per call).
//
// Rows [0, 8 * n_groups) form groups of 8 (n_groups = rows / 8); group g takes the same
// bytes the file gives rows 8g..8g+7 (8 * row_bytes, starting at g * 8 * row_bytes), laid
// out block column by block column, group_block_bytes(dtype) bytes per 32-column block b:
//
//   + [0, 16)          f16 scales of rows 0..7
//   + 16 + 32 v + 4 r  row r's quant bytes [4v, 4v + 4) of the block
//                      q4: v < 4 (144 bytes a block): low nibbles are elements 4v..4v+3,
//                          high nibbles 16+4v..16+4v+3 (the BlockQ4 byte order)
//                      q8: v < 8 (272 bytes a block): elements 4v..4v+3
//
// Rows past the last full group keep the file layout at r * row_bytes. The total size is
// unchanged: rows * row_bytes.
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

// Whether repack() takes this matrix: Q4 or Q8, file layout, at least 8 rows.
bool can_repack(const MatrixView& w);
// The repack; out may be w.data (in place). Returns the kInterleaved8 view of `out`.
MatrixView repack(const MatrixView& w, void* out);
// Rows [r0, r0 + 8) of a Q4 / Q8 matrix that are in the file layout (a kRows matrix, or
// the rows after a kInterleaved8 matrix's last group) as one group at `out`
// (row_bytes / block bytes * group_block_bytes bytes); rows past w.rows become weight 0
// with scale 0. The kernels use it for rows no repack covers.
void pack_group(const MatrixView& w, int64_t r0, uint8_t* out);
// Row `row` of a kInterleaved8 matrix in the file layout: row_bytes bytes to out.
void copy_row(const MatrixView& packed, int64_t row, void* out);
// The inverse of repack, for tests: the file-layout bytes of the whole matrix to out.
void unpack(const MatrixView& packed, void* out);

}  // namespace ember::il8
