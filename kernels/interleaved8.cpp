#include "kernels/interleaved8.h"

#include <cstddef>
#include <cstring>
#include <vector>

#include "kernels/quant.h"

namespace ember::il8 {

int64_t group_block_bytes(DType dtype) { return dtype == DType::Q4 ? kQ4GroupBlockBytes : kQ8GroupBlockBytes; }

namespace {

// Both block types are a 2-byte f16 scale followed by the quant bytes.
static_assert(offsetof(BlockQ4, q) == 2 && offsetof(BlockQ8, q) == 2, "scale first, then quants");

int64_t block_bytes(DType dtype) { return dtype == DType::Q4 ? int64_t(sizeof(BlockQ4)) : int64_t(sizeof(BlockQ8)); }

// One group from 8 file-layout rows (nullptr: a row of weight 0). The block sizes are
// template arguments so every copy is a fixed-size move.
template <int64_t kBlockBytes, int64_t kGroupBlockBytes, uint8_t kZeroQuant>
void rows_to_group(const uint8_t* const rows[kGroupRows], int64_t n_blocks, uint8_t* group) {
    constexpr int64_t kChunks = (kBlockBytes - 2) / 4;  // 4-byte quant chunks per block
    for (int64_t b = 0; b < n_blocks; ++b) {
        uint8_t* dst = group + b * kGroupBlockBytes;
        for (int r = 0; r < kGroupRows; ++r) {
            if (rows[r] == nullptr) {
                std::memset(dst + 2 * r, 0, 2);
                for (int64_t v = 0; v < kChunks; ++v) std::memset(dst + 16 + 32 * v + 4 * r, kZeroQuant, 4);
                continue;
            }
            const uint8_t* src = rows[r] + b * kBlockBytes;
            std::memcpy(dst + 2 * r, src, 2);
            for (int64_t v = 0; v < kChunks; ++v) std::memcpy(dst + 16 + 32 * v + 4 * r, src + 2 + 4 * v, 4);
        }
    }
}

template <int64_t kBlockBytes, int64_t kGroupBlockBytes>
void group_to_row(const uint8_t* group, int64_t n_blocks, int r, uint8_t* row) {
    constexpr int64_t kChunks = (kBlockBytes - 2) / 4;
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* src = group + b * kGroupBlockBytes;
        uint8_t* dst = row + b * kBlockBytes;
        std::memcpy(dst, src + 2 * r, 2);
        for (int64_t v = 0; v < kChunks; ++v) std::memcpy(dst + 2 + 4 * v, src + 16 + 32 * v + 4 * r, 4);
    }
}

void rows_to_group(DType dtype, const uint8_t* const rows[kGroupRows], int64_t n_blocks, uint8_t* group) {
    if (dtype == DType::Q4)
        rows_to_group<sizeof(BlockQ4), kQ4GroupBlockBytes, 0x88>(rows, n_blocks, group);  // nibble 8 = weight 0
    else
        rows_to_group<sizeof(BlockQ8), kQ8GroupBlockBytes, 0>(rows, n_blocks, group);
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
        std::vector<uint8_t> copy(dst == src ? static_cast<size_t>(group_bytes) : 0);  // [8][row_bytes]
#pragma omp for schedule(static)
        for (int64_t g = 0; g < n_groups; ++g) {
            const uint8_t* group_rows = src + g * group_bytes;
            if (dst == src) {  // in place: read from a copy
                std::memcpy(copy.data(), group_rows, size_t(group_bytes));
                group_rows = copy.data();
            }
            const uint8_t* rows[kGroupRows];
            for (int r = 0; r < kGroupRows; ++r) rows[r] = group_rows + r * w.row_bytes;
            rows_to_group(w.dtype, rows, n_blocks, dst + g * group_bytes);
        }
    }
    const int64_t tail = n_groups * group_bytes, total = w.rows * w.row_bytes;
    if (dst != src && total > tail) std::memcpy(dst + tail, src + tail, size_t(total - tail));
    MatrixView packed = w;
    packed.data = out;
    packed.layout = WeightLayout::kInterleaved8;
    return packed;
}

void pack_group(const MatrixView& w, int64_t r0, uint8_t* out) {
    const auto* base = static_cast<const uint8_t*>(w.data);
    const uint8_t* rows[kGroupRows];
    for (int r = 0; r < kGroupRows; ++r) rows[r] = r0 + r < w.rows ? base + (r0 + r) * w.row_bytes : nullptr;
    rows_to_group(w.dtype, rows, w.row_bytes / block_bytes(w.dtype), out);
}

void copy_row(const MatrixView& packed, int64_t row, void* out) {
    const auto* base = static_cast<const uint8_t*>(packed.data);
    if (row >= packed.rows / kGroupRows * kGroupRows) {  // past the last group: file layout
        std::memcpy(out, base + row * packed.row_bytes, size_t(packed.row_bytes));
        return;
    }
    const int r = int(row % kGroupRows);
    const uint8_t* group = base + (row - r) * packed.row_bytes;
    const int64_t n_blocks = packed.row_bytes / block_bytes(packed.dtype);
    auto* dst = static_cast<uint8_t*>(out);
    if (packed.dtype == DType::Q4)
        group_to_row<sizeof(BlockQ4), kQ4GroupBlockBytes>(group, n_blocks, r, dst);
    else
        group_to_row<sizeof(BlockQ8), kQ8GroupBlockBytes>(group, n_blocks, r, dst);
}

void unpack(const MatrixView& packed, void* out) {
    auto* dst = static_cast<uint8_t*>(out);
    for (int64_t row = 0; row < packed.rows; ++row) copy_row(packed, row, dst + row * packed.row_bytes);
}

}  // namespace ember::il8
