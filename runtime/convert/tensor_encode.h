// Source tensor (F32 / F16 / BF16 safetensors) -> the stored dtype, row by row.
#pragma once
#include <cstdint>

#include "kernels/dtype.h"
#include "runtime/convert/safetensors.h"

namespace ember {

struct EncodeStats {
    uint64_t f16_overflows = 0;  // finite source values that became +-inf in f16
};

// Writes tensor_bytes(dtype, src.shape) bytes to `out`: plain copies when the types match,
// else each row is widened to f32 and encoded (q8 / q4 through the reference quantizers,
// last block zero-padded). Rows run in parallel (OpenMP) and each row's result depends
// only on that row, so the output is identical for any thread count.
// Requires require_float_dtype(src) and dtype in {F32, F16, BF16, Q8, Q4}; never throws
// inside the parallel loop.
EncodeStats encode_tensor(const SafetensorsTensor& src, DType dtype, uint8_t* out);

}  // namespace ember
