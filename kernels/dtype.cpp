// Names and storage sizes of the dtypes. Names are what the model file stores, so they
// must never change.
#include "kernels/dtype.h"

#include "kernels/quant.h"

namespace ember {

namespace {
constexpr DType kAllDTypes[] = {DType::F32, DType::F16, DType::BF16, DType::Q8, DType::Q4, DType::U8};
}  // namespace

std::string_view dtype_name(DType t) {
    switch (t) {
        case DType::F32:
            return "f32";
        case DType::F16:
            return "f16";
        case DType::BF16:
            return "bf16";
        case DType::Q8:
            return "q8";
        case DType::Q4:
            return "q4";
        case DType::U8:
            return "u8";
    }
    return "?";  // an out-of-range enum value (memory corruption); callers print it
}

std::optional<DType> dtype_from_name(std::string_view name) {
    for (DType t : kAllDTypes)
        if (dtype_name(t) == name) return t;
    return std::nullopt;
}

int64_t dtype_block_elems(DType t) {
    return (t == DType::Q8 || t == DType::Q4) ? kQBlock : 1;
}

int64_t dtype_block_bytes(DType t) {
    switch (t) {
        case DType::F32:
            return 4;
        case DType::F16:
            return 2;
        case DType::BF16:
            return 2;
        case DType::Q8:
            return int64_t(sizeof(BlockQ8));
        case DType::Q4:
            return int64_t(sizeof(BlockQ4));
        case DType::U8:
            return 1;
    }
    return 0;
}

int64_t dtype_row_bytes(DType t, int64_t cols) {
    const int64_t elems = dtype_block_elems(t);
    const int64_t units = (cols + elems - 1) / elems;  // the last block is padded, not dropped
    return units * dtype_block_bytes(t);
}

}  // namespace ember
