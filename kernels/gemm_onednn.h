// oneDNN matmul for prefill-sized batches: weights are decoded tile by tile (a few hundred
// KB per thread) and multiplied by oneDNN, so no full f32 copy of a matrix ever exists.
// Internal to kernels/ (the AVX2 table and the kernel tests/benchmark call it).
//
// Threading: OpenMP over tiles of output rows (static); each tile is one single-threaded
// oneDNN call on its own thread. The tiling depends only on the shape, and oneDNN runs each
// tile alone, so results do not depend on the thread count.
#pragma once
#include <cstdint>

#include "kernels/kernels.h"

namespace ember::onednn {

// Whether oneDNN runs its f32 matmul with AVX-512 here (then it is about twice as fast as
// on AVX2, and wins some shapes against the AVX2 int8 kernels: docs/benchmarks.md).
bool f32_has_avx512();

// Writes weight rows [r0, r0 + n_rows) as f32 into out[n_rows, ld] (the caller's ISA).
using DecodeRows = void (*)(const MatrixView& w, int64_t r0, int64_t n_rows, float* out, int64_t ld);

// y[t, r] = sum_c W[r, c] x[t, c] with oneDNN f32 matmul (exact decoded weights, f32
// activations). Returns false, leaving y untouched, if oneDNN has no implementation.
bool matmul_f32(const MatrixView& w, const float* x /* [T, cols] */, float* y /* [T, rows] */, int64_t n_tokens,
                DecodeRows decode);

// The same with s8 x s8 -> s32 oneDNN matmul: each weight row re-quantized to s8 with one
// scale per row, each token's activations with one scale per token (coarser than the
// 32-block scales of the AVX2 int8 kernels: an outlier feature shrinks the resolution of
// its whole row). Not chosen automatically (kernels_avx2.cpp explains why); kept for
// measurements.
// Integer accumulation is exact, so any tiling gives the same result: tiles here are
// sized for the thread count.
struct S8Ops {
    // See kernels_avx2.h: quantize_rows_s8, requant_rows_s8, scale_token_rows.
    void (*requant_rows)(const MatrixView& w, int64_t r0, int64_t n_rows, int8_t* out, float* scale, float* tmp);
    void (*scale_token_rows)(float* y, int64_t ld, int64_t n_tokens, int64_t n, const float* token_scale);
};
// xq: [T, cols] s8 activations, x_scale: [T].
bool matmul_s8(const MatrixView& w, const int8_t* xq, const float* x_scale, float* y, int64_t n_tokens,
               const S8Ops& ops);

}  // namespace ember::onednn
