#include "kernels/interleaved8.h"

#include <cstring>
#include <vector>

#include "kernels/quant.h"

namespace ember::il8 {

int64_t group_block_bytes(DType dtype) { return dtype == DType::Q4 ? kQ4GroupBlockBytes : kQ8GroupBlockBytes; }
int64_t scale_offset(int r) { return 2 * r; }
int64_t quant_offset(DType dtype, int r) { return dtype == DType::Q4 ? 16 + 32 * (r % 4) + 16 * (r / 4) : 16 + 32 * r; }

namespace {

int64_t block_bytes(DType dtype) { return dtype == DType::Q4 ? int64_t(sizeof(BlockQ4)) : int64_t(sizeof(BlockQ8)); }

// Both block types are a 2-byte f16 scale followed by the quant bytes.
static_assert(offsetof(BlockQ4, q) == 2 && offsetof(BlockQ8, q) == 2, "scale first, then quants");

// Moves one row's blocks between the file layout (`row`) and its slots in a group.
void row_to_group(DType dtype, const uint8_t* row, int64_t n_blocks, int r, uint8_t* group) {
    const int64_t bb = block_bytes(dtype), gb = group_block_bytes(dtype), qo = quant_offset(dtype, r);
    for (int64_t b = 0; b < n_blocks; ++b) {
        std::memcpy(group + b * gb + scale_offset(r), row + b * bb, 2);
        std::memcpy(group + b * gb + qo, row + b * bb + 2, size_t(bb - 2));
    }
}

void group_to_row(DType dtype, const uint8_t* group, int64_t n_blocks, int r, uint8_t* row) {
    const int64_t bb = block_bytes(dtype), gb = group_block_bytes(dtype), qo = quant_offset(dtype, r);
    for (int64_t b = 0; b < n_blocks; ++b) {
        std::memcpy(row + b * bb, group + b * gb + scale_offset(r), 2);
        std::memcpy(row + b * bb + 2, group + b * gb + qo, size_t(bb - 2));
    }
}

}  // namespace

bool can_repack(const MatrixView& w) {
    return (w.dtype == DType::Q4 || w.dtype == DType::Q8) && w.layout == WeightLayout::kRows && w.rows >= kGroupRows;
}

MatrixView repack(const MatrixView& w, void* out) {
    const int64_t n_blocks = w.row_bytes / block_bytes(w.dtype);
    const int64_t n_groups = w.rows / kGroupRows, group_bytes = kGroupRows * w.row_bytes;
    const auto* src = static_cast<const uint8_t*>(w.data);
    auto* dst = static_cast<uint8_t*>(out);
    // Groups are independent and each writes only its own bytes, so in place works with a
    // copy of the group's 8 rows.
#pragma omp parallel
    {
        std::vector<uint8_t> rows(static_cast<size_t>(group_bytes));  // [8][row_bytes]
#pragma omp for schedule(static)
        for (int64_t g = 0; g < n_groups; ++g) {
            std::memcpy(rows.data(), src + g * group_bytes, size_t(group_bytes));
            for (int r = 0; r < kGroupRows; ++r)
                row_to_group(w.dtype, rows.data() + r * w.row_bytes, n_blocks, r, dst + g * group_bytes);
        }
    }
    const int64_t tail = n_groups * group_bytes, total = w.rows * w.row_bytes;
    if (dst != src && total > tail) std::memcpy(dst + tail, src + tail, size_t(total - tail));
    MatrixView packed = w;
    packed.data = out;
    packed.layout = WeightLayout::kInterleaved8;
    return packed;
}

void copy_row(const MatrixView& packed, int64_t row, void* out) {
    const auto* base = static_cast<const uint8_t*>(packed.data);
    if (row >= packed.rows / kGroupRows * kGroupRows) {  // past the last group: file layout
        std::memcpy(out, base + row * packed.row_bytes, size_t(packed.row_bytes));
        return;
    }
    const int r = int(row % kGroupRows);
    group_to_row(packed.dtype, base + (row - r) * packed.row_bytes, packed.row_bytes / block_bytes(packed.dtype), r,
                 static_cast<uint8_t*>(out));
}

void unpack(const MatrixView& packed, void* out) {
    auto* dst = static_cast<uint8_t*>(out);
    for (int64_t row = 0; row < packed.rows; ++row) copy_row(packed, row, dst + row * packed.row_bytes);
}

}  // namespace ember::il8
