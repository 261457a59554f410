// Element types Ember stores weights and activations in, and their byte sizes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ember {

// The numeric values are part of nothing on disk (the file stores names), so they may change.
enum class DType : uint8_t {
    F32,
    F16,
    BF16,
    Q8,  // blocks of 32 int8 values + one f16 scale (BlockQ8, kernels/quant.h)
    Q4,  // blocks of 32 int4 values + one f16 scale (BlockQ4, kernels/quant.h)
    U8,  // raw bytes (embedded blobs such as tokenizer files)
};

std::string_view dtype_name(DType t);                    // "f32", "q4", ...
std::optional<DType> dtype_from_name(std::string_view);  // inverse of dtype_name

// Elements per storage unit: 1 for plain types, 32 for block types.
int64_t dtype_block_elems(DType t);
// Bytes per storage unit: 4 for f32, 34 for a q8 block, ...
int64_t dtype_block_bytes(DType t);
// Bytes one row of `cols` elements occupies. Block types pad the last block with zeros,
// so a row of 172 q4 values takes ceil(172/32) = 6 blocks.
int64_t dtype_row_bytes(DType t, int64_t cols);

}  // namespace ember
