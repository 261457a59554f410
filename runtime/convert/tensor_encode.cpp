// Row-parallel encoding of source weights into Ember's stored dtypes.
#include "runtime/convert/tensor_encode.h"

#include <omp.h>

#include <cassert>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/half.h"
#include "kernels/quant.h"

namespace ember {
namespace {

// Below this many elements a tensor is encoded on one thread: waking the team costs more
// than the work (and on a busy machine far more).
constexpr int64_t kParallelMinElements = int64_t(1) << 16;

// Encodes one f32 row of `cols` values; returns how many finite values overflowed f16.
uint64_t encode_row(DType dtype, const float* x, int64_t cols, uint8_t* out) {
    uint64_t overflows = 0;
    switch (dtype) {
        case DType::F32:
            std::memcpy(out, x, size_t(cols) * 4);
            break;
        case DType::F16:
            for (int64_t i = 0; i < cols; ++i) {
                const uint16_t h = f32_to_f16(x[i]);
                overflows += std::isfinite(x[i]) && (h & 0x7fffu) == 0x7c00u;
                std::memcpy(out + i * 2, &h, 2);
            }
            break;
        case DType::BF16:
            for (int64_t i = 0; i < cols; ++i) {
                const uint16_t h = f32_to_bf16(x[i]);
                std::memcpy(out + i * 2, &h, 2);
            }
            break;
        case DType::Q8:
            quantize_row_q8_ref(x, reinterpret_cast<BlockQ8*>(out), cols);
            break;
        case DType::Q4:
            quantize_row_q4_ref(x, reinterpret_cast<BlockQ4*>(out), cols);
            break;
        case DType::U8:
            assert(false && "weights are never stored as U8");
            break;
    }
    return overflows;
}

}  // namespace

EncodeStats encode_tensor(const SafetensorsTensor& src, DType dtype, uint8_t* out) {
    const auto src_dtype = safetensors_float_dtype(src.dtype_name);
    assert(src_dtype && "encode_tensor needs a float source: call require_float_dtype first");
    EncodeStats stats;
    if (*src_dtype == dtype) {  // same plain type: bit-exact copy, NaN payloads and all
        std::memcpy(out, src.data, src.size);
        return stats;
    }

    const int64_t rows = src.rows(), cols = src.cols();
    const int64_t row_bytes = dtype_row_bytes(dtype, cols);
    // One f32 row per thread, allocated here: nothing may throw inside the parallel region.
    std::vector<float> scratch(size_t(omp_get_max_threads()) * size_t(cols));
    uint64_t overflows = 0;
#pragma omp parallel for schedule(static) reduction(+ : overflows) if (rows * cols >= kParallelMinElements)
    for (int64_t r = 0; r < rows; ++r) {
        float* row = scratch.data() + size_t(omp_get_thread_num()) * size_t(cols);
        read_rows_f32(src, r, 1, row);
        overflows += encode_row(dtype, row, cols, out + r * row_bytes);
    }
    stats.f16_overflows = overflows;
    return stats;
}

}  // namespace ember
