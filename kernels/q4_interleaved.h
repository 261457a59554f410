// The Q4 interleaved-8 layout (WeightLayout::kQ4Interleaved8): what the AVX2 table repacks
// q4 matrices into at load time, so one 32-byte load feeds two rows and the scales of 8
// rows convert in one instruction (kernels/matvec_quant_avx2.cpp explains the arithmetic).
//
// Rows [0, 8 * n_groups) form groups of 8 (n_groups = rows / 8); group g takes the same
// bytes the file gives rows 8g..8g+7 (8 * row_bytes, starting at g * 8 * row_bytes), laid
// out block column by block column, 144 bytes per 32-column block b:
//
//   group + b * 144 + [0, 16)        f16 scales of rows 0..7
//   group + b * 144 + 16 + 32 k      row k's 16 quant bytes, then row k+4's   (k < 4)
//
// so a load at 16 + 32k holds rows k and k+4 (BlockQ4 nibble order inside each 16 bytes).
// Rows past the last full group keep the file layout at r * row_bytes. The total size is
// unchanged: rows * row_bytes.
#pragma once
#include <cstdint>

#include "kernels/kernels.h"
#include "kernels/quant.h"

namespace ember::q4i {

constexpr int kGroupRows = 8;
constexpr int64_t kGroupBlockBytes = 144;  // 8 rows x (2 scale + 16 quant bytes)

// Kept out of line (in q4_interleaved.cpp) so ISA-specific files include no weak
// definitions (tests/kernels/check_isa_isolation.py).
int64_t scale_offset(int row_in_group);  // 2 r
int64_t quant_offset(int row_in_group);  // 16 + 32 (r % 4) + 16 (r / 4)

// The repack: w must be Q4 in kRows with at least 8 rows; out may be w.data (in place).
// Returns the kQ4Interleaved8 view of `out`.
MatrixView repack_q4_interleaved(const MatrixView& w, void* out);

// Row `row` of a kQ4Interleaved8 matrix in the file layout: out[row_bytes / 18 blocks].
void copy_row(const MatrixView& packed, int64_t row, BlockQ4* out);

// The inverse, for tests: writes the kRows bytes of a kQ4Interleaved8 matrix to out.
void unpack_q4_interleaved(const MatrixView& packed, void* out);

}  // namespace ember::q4i
