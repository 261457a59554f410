#include "kernels/q4_interleaved.h"

#include <cstring>
#include <vector>

#include "kernels/quant.h"

namespace ember::q4i {

int64_t scale_offset(int r) { return 2 * r; }
int64_t quant_offset(int r) { return 16 + 32 * (r % 4) + 16 * (r / 4); }

namespace {

// One group: the 8 file rows in `rows` (8 * row_bytes) -> the interleaved bytes in `group`.
void pack_group(const uint8_t* rows, int64_t row_bytes, int64_t n_blocks, uint8_t* group) {
    for (int r = 0; r < kGroupRows; ++r) {
        const auto* row = reinterpret_cast<const BlockQ4*>(rows + r * row_bytes);
        for (int64_t b = 0; b < n_blocks; ++b) {
            uint8_t* dst = group + b * kGroupBlockBytes;
            std::memcpy(dst + scale_offset(r), &row[b].scale_f16, 2);
            std::memcpy(dst + quant_offset(r), row[b].q, 16);
        }
    }
}

void unpack_group(const uint8_t* group, int64_t row_bytes, int64_t n_blocks, uint8_t* rows) {
    for (int r = 0; r < kGroupRows; ++r) {
        auto* row = reinterpret_cast<BlockQ4*>(rows + r * row_bytes);
        for (int64_t b = 0; b < n_blocks; ++b) {
            const uint8_t* src = group + b * kGroupBlockBytes;
            std::memcpy(&row[b].scale_f16, src + scale_offset(r), 2);
            std::memcpy(row[b].q, src + quant_offset(r), 16);
        }
    }
}

}  // namespace

MatrixView repack_q4_interleaved(const MatrixView& w, void* out) {
    const int64_t n_blocks = w.row_bytes / int64_t(sizeof(BlockQ4));
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
            pack_group(rows.data(), w.row_bytes, n_blocks, dst + g * group_bytes);
        }
    }
    const int64_t tail = n_groups * group_bytes, total = w.rows * w.row_bytes;
    if (dst != src && total > tail) std::memcpy(dst + tail, src + tail, size_t(total - tail));
    MatrixView packed = w;
    packed.data = out;
    packed.layout = WeightLayout::kQ4Interleaved8;
    return packed;
}

void copy_row(const MatrixView& packed, int64_t row, BlockQ4* out) {
    const int64_t n_blocks = packed.row_bytes / int64_t(sizeof(BlockQ4));
    const auto* base = static_cast<const uint8_t*>(packed.data);
    if (row >= packed.rows / kGroupRows * kGroupRows) {  // past the last group: file layout
        std::memcpy(out, base + row * packed.row_bytes, size_t(packed.row_bytes));
        return;
    }
    const int r = int(row % kGroupRows);
    const uint8_t* group = base + (row - r) * packed.row_bytes;
    for (int64_t b = 0; b < n_blocks; ++b) {
        std::memcpy(&out[b].scale_f16, group + b * kGroupBlockBytes + scale_offset(r), 2);
        std::memcpy(out[b].q, group + b * kGroupBlockBytes + quant_offset(r), 16);
    }
}

void unpack_q4_interleaved(const MatrixView& packed, void* out) {
    const int64_t n_blocks = packed.row_bytes / int64_t(sizeof(BlockQ4));
    const int64_t n_groups = packed.rows / kGroupRows, group_bytes = kGroupRows * packed.row_bytes;
    const auto* src = static_cast<const uint8_t*>(packed.data);
    auto* dst = static_cast<uint8_t*>(out);
    for (int64_t g = 0; g < n_groups; ++g) unpack_group(src + g * group_bytes, packed.row_bytes, n_blocks, dst + g * group_bytes);
    const int64_t tail = n_groups * group_bytes, total = packed.rows * packed.row_bytes;
    if (total > tail) std::memcpy(dst + tail, src + tail, size_t(total - tail));
}

}  // namespace ember::q4i
