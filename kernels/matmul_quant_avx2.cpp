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
// AVX-512 pairs from this many tokens. Below it the matmul streams its weights from DRAM
// with few multiply-adds per byte, and one group at a time (one sequential stream) was
// measured faster than a pair's two streams 8 rows apart: decode (1 token) 137-141 vs
// 89-93 t/s, batched decode x2/x4 also slower, x5..x8 faster (docs/benchmarks.md).
constexpr int64_t kPairMinTokens = kGroupPassTokens + 1;

using GroupPass = void (*)(const uint8_t*, const QuantizedActs&, int64_t, int, int64_t, int64_t, float*);
using PairPass = void (*)(const uint8_t*, const uint8_t*, const QuantizedActs&, int64_t, int, int64_t, int64_t, float*);

}  // namespace

void matmul_quant(const MatrixView& w, const QuantizedActs& x, float* y, int64_t n_tokens, Int8Dot dot) {
    const bool q4 = w.dtype == DType::Q4;
    // AVX-512 VNNI runs two groups per pass where both are whole and the call has more
    // tokens than one pass; a lone or partial group, and small calls, take the AVX-VNNI
    // kernel (same results).
    const bool vnni = dot != Int8Dot::kAvx2;
    const GroupPass pass = q4 ? (vnni ? group_pass_q4_vnni : group_pass_q4) : (vnni ? group_pass_q8_vnni : group_pass_q8);
    const PairPass pair_pass = dot != Int8Dot::kAvx512Vnni || n_tokens < kPairMinTokens
                                   ? nullptr
                                   : (q4 ? pair_pass_q4_avx512 : pair_pass_q8_avx512);
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
            for (int64_t i = 0; i < count; ++i) {
                const int64_t r0 = (first + i) * il8::kGroupRows;
                if (pair_pass != nullptr && i + 1 < count && r0 + 2 * il8::kGroupRows <= w.rows) {
                    pair_pass(groups[i], groups[i + 1], x, t0, n, r0, w.rows, y);
                    ++i;
                } else {
                    pass(groups[i], x, t0, n, r0, w.rows, y);
                }
            }
        }
    }
}

}  // namespace ember::avx2
