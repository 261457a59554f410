// Q4 / Q8 weights x int8-quantized activations, any number of tokens, AVX2: the group
// kernels (kernels/quant_group_avx2.h) run over the matrix's 8-row groups.
//
// Repacked (interleaved-8) matrices are read in place. Rows no repack covers (a
// file-layout matrix, or the rows after the last group) are first packed into the same
// group layout in a per-thread buffer, so every row of every matrix goes through the same
// arithmetic: a token's logits do not depend on how many tokens share the call (decode,
// batched decode and prefill agree bit for bit).
#include <cstdlib>

#include "kernels/interleaved8.h"
#include "kernels/quant.h"
#include "kernels/quant_group_avx2.h"
#include "kernels/scratch.h"
#include "kernels/simd_avx2.h"

namespace ember::avx2 {

namespace {

constexpr int64_t kParallelMinMacs = 32768;  // below this a matmul stays on one thread
constexpr int64_t kGroupsPerChunk = 4;       // 32 rows share each pass over a token group's activations

using GroupPass = void (*)(const uint8_t*, const QuantizedActs&, int64_t, int, int64_t, int64_t, float*);

}  // namespace

void matmul_quant(const MatrixView& w, const QuantizedActs& x, float* y, int64_t n_tokens, bool avx_vnni) {
    const bool q4 = w.dtype == DType::Q4;
    const GroupPass pass = q4 ? (avx_vnni ? group_pass_q4_vnni : group_pass_q4)
                              : (avx_vnni ? group_pass_q8_vnni : group_pass_q8);
    const int64_t n_groups = (w.rows + il8::kGroupRows - 1) / il8::kGroupRows;
    const int64_t in_place = w.layout == WeightLayout::kInterleaved8 ? w.rows / il8::kGroupRows : 0;
    const int64_t group_bytes = x.n_blocks * il8::group_block_bytes(w.dtype);
    const int64_t n_chunks = (n_groups + kGroupsPerChunk - 1) / kGroupsPerChunk;
    const auto* base = static_cast<const uint8_t*>(w.data);
    // Static: each thread streams one contiguous range of rows, which the hardware
    // prefetcher follows (single-token decode is bound by that stream).
#pragma omp parallel for schedule(static) if (w.rows * w.cols * n_tokens > kParallelMinMacs)
    for (int64_t c = 0; c < n_chunks; ++c) {
        const int64_t first = c * kGroupsPerChunk, count = min_i64(kGroupsPerChunk, n_groups - first);
        const uint8_t* groups[kGroupsPerChunk];
        uint8_t* packed = nullptr;  // [kGroupsPerChunk][group_bytes], only for rows no repack covers
        for (int64_t i = 0; i < count; ++i) {
            const int64_t g = first + i;
            if (g < in_place) {
                groups[i] = base + g * il8::kGroupRows * w.row_bytes;
                continue;
            }
            if (packed == nullptr)
                packed = static_cast<uint8_t*>(thread_scratch(ScratchSlot::kTile, size_t(kGroupsPerChunk * group_bytes)));
            il8::pack_group(w, g * il8::kGroupRows, packed + i * group_bytes);
            groups[i] = packed + i * group_bytes;
        }
        // Token passes outside, groups inside: a pass's activations stay in L1 for all groups.
        for (int64_t t0 = 0; t0 < n_tokens; t0 += kGroupPassTokens) {
            const int n = int(min_i64(kGroupPassTokens, n_tokens - t0));
            for (int64_t i = 0; i < count; ++i) pass(groups[i], x, t0, n, (first + i) * il8::kGroupRows, w.rows, y);
        }
    }
}

}  // namespace ember::avx2
