// Quantized block formats (on disk and in memory) and their scalar reference
// quantize / dequantize. The converter and the tests both use these functions, so the
// file format has exactly one definition of what a block means.
//
// Layout (docs/format.md has the full story):
//   BlockQ8: value[i] = scale * q[i],               q[i] in [-127, 127]
//   BlockQ4: value[i] = scale * (nibble(i) - 8),    nibble in [0, 15]
//            byte j (0..15) holds element j in its low nibble and element j+16 in its
//            high nibble, so one 16-byte load + mask/shift yields two contiguous halves.
// A row of K values is ceil(K/32) blocks; the tail of the last block is zero.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ember {

constexpr int kQBlock = 32;  // elements per quant block (q8 and q4)

struct BlockQ8 {
    uint16_t scale_f16;
    int8_t q[kQBlock];
};
static_assert(sizeof(BlockQ8) == 34, "BlockQ8 must be packed: 2-byte scale + 32 int8");

struct BlockQ4 {
    uint16_t scale_f16;
    uint8_t q[kQBlock / 2];
};
static_assert(sizeof(BlockQ4) == 18, "BlockQ4 must be packed: 2-byte scale + 16 bytes of nibbles");

// Quantize one row of n floats into ceil(n/32) blocks (tail zero-padded).
// Scale = absmax / 127 (q8) or absmax / -8 with the sign of the extreme value (q4,
// so the extreme value maps exactly to nibble 0 and the range [-8, 7] is fully used).
// The stored f16 scale is the f16 nearest that ideal scale, moved one f16 step away from
// zero if rounding lost magnitude, and values are quantized with the stored scale; so
// |x - dequantized x| <= |scale|/2 except for the q4 opposite-sign extreme (<= |scale|).
void quantize_row_q8_ref(const float* x, BlockQ8* out, int64_t n);
void quantize_row_q4_ref(const float* x, BlockQ4* out, int64_t n);

// Inverse: writes n floats (the padded tail is dropped).
void dequantize_row_q8_ref(const BlockQ8* in, float* y, int64_t n);
void dequantize_row_q4_ref(const BlockQ4* in, float* y, int64_t n);

inline int64_t quant_blocks_per_row(int64_t n) { return (n + kQBlock - 1) / kQBlock; }

}  // namespace ember
