// Internal to kernels/: the pieces the AVX2 KernelTable is assembled from
// (kernels_avx2.cpp), shared with the kernel tests and tests/bench_kernels.cpp.
// No SIMD types here, so any file may include it; only call these when the CPU has
// AVX2 + FMA + F16C (that is, from the AVX2 table or after checking usable_kernel_tables()).
#pragma once
#include <cstdint>

#include "kernels/kernels.h"

namespace ember::avx2 {

// Activations quantized to q8 blocks for int8 dot products (internal; never on disk):
// token t, block b holds q[t*row_q + b*32 .. +32) with value d[t*n_blocks + b] * q.
// Two derived forms save the kernels work per weight block:
// - qu = q + 128 as unsigned bytes (same shape): VPDPBUSD multiplies unsigned by signed
//   bytes, so the AVX-VNNI q8 kernel computes (q + 128) . w - 128 sum(w) = q . w;
// - q4_offset[t*n_blocks + b] = -8 * (sum of the block's 32 q): q4 weights are unsigned
//   nibbles n = w/scale + 8, so dot(n - 8, q) = dot(n, q) + q4_offset.
struct QuantizedActs {
    const int8_t* q = nullptr;          // [n_tokens, n_blocks * 32]
    const float* d = nullptr;           // [n_tokens, n_blocks]
    const int32_t* q4_offset = nullptr; // [n_tokens, n_blocks]
    const uint8_t* qu = nullptr;        // [n_tokens, n_blocks * 32]
    int64_t n_blocks = 0;
};

// x: [n_tokens, cols] -> q8 blocks with exactly the scales and values quantize_row_q8_ref
// stores (f16 scale ~ absmax/127, kept here as f32). The tail of the last block is zero. Uses (and grows) this thread's scratch slot 0.
QuantizedActs quantize_acts(const float* x, int64_t n_tokens, int64_t cols);

// The activations as the int8 kernels see them, as floats: out[t, c] = d * q (exact in
// f32). Feeding these to an f32 GEMM reproduces the int8 kernels' numerics up to f32
// rounding. Returns this thread's scratch slot kActsF32: [n_tokens, cols].
const float* dequantize_acts(const QuantizedActs& a, int64_t n_tokens, int64_t cols);

// Which instructions the int8 group kernels use for their dot products. All give
// identical results; each needs the CPU feature of the same name (cpu_features()).
enum class Int8Dot {
    kAvx2,       // VPMADDUBSW + VPMADDWD on YMM
    kAvxVnni,    // VPDPBUSD on YMM (AVX-VNNI)
    kAvx512Vnni  // VPDPBUSD on ZMM, two groups (16 rows) per register (AVX-512 VNNI)
};

// y[t, r] = sum_c W[r, c] * x[t, c] with int8 activations (per-32-block scales), for
// w.dtype Q4 or Q8, any layout (kernels/matmul_quant_avx2.cpp); OpenMP over 8-row groups,
// static: each y element comes from one thread in a fixed order, so results depend
// neither on the thread count nor on n_tokens (nor on `dot`).
void matmul_quant(const MatrixView& w, const QuantizedActs& x, float* y, int64_t n_tokens, Int8Dot dot);

// What the table uses: the best this CPU has, capped by EMBER_INT8_DOT=avx2|avx-vnni|
// avx512-vnni (for A/B measurements; a level the CPU lacks falls back to the best it has).
Int8Dot int8_dot();
// Its name as EMBER_INT8_DOT spells it.
const char* int8_dot_name(Int8Dot dot);
// Whether this CPU can run `dot`.
bool cpu_has(Int8Dot dot);

// Same contract as KernelTable::matmul for F32, F16 and BF16 weights (f32 activations).
void matmul_float(const MatrixView& w, const float* x, float* y, int64_t n_tokens);

// Decodes weight rows [r0, r0 + n_rows) to f32, row-major with row stride `ld` floats:
// the tile the oneDNN path multiplies (kernels/gemm_onednn.cpp).
void decode_rows_f32(const MatrixView& w, int64_t r0, int64_t n_rows, float* out, int64_t ld);

// Operands of the oneDNN s8 matmul (s8_prep_avx2.cpp).
// Per-token symmetric s8: q[t, :] = round(x[t, :] * 127 / max|x[t, :]|), scale[t] = max/127.
// Returns the largest, over tokens, of (row absmax)^2 / mean over 32-blocks of (block
// absmax)^2: how much larger the per-element error variance is with one scale per token
// than with one per 32-block (about 2-3 for Gaussian rows; large with outlier features).
float quantize_rows_s8(const float* x, int64_t n_tokens, int64_t cols, int8_t* q, float* scale);
// Weight rows [r0, r0 + n_rows) to s8 with one scale per row: out [n_rows, cols], scale
// [n_rows]; tmp: [cols] floats of scratch (dtypes other than q4 go through f32).
void requant_rows_s8(const MatrixView& w, int64_t r0, int64_t n_rows, int8_t* out, float* scale, float* tmp);
// y[t, 0..n) *= token_scale[t] for t < n_tokens; rows ld floats apart.
void scale_token_rows(float* y, int64_t ld, int64_t n_tokens, int64_t n, const float* token_scale);

// y = x . W^T through oneDNN s8 (kernels_avx2.cpp): per-token s8 activations, per-row s8
// weights. Returns false, writing nothing, if quantize_rows_s8's outlier ratio exceeds
// max_outlier_ratio (unless ignore_outliers) or oneDNN cannot run it.
bool matmul_onednn_s8(const MatrixView& w, const float* x, float* y, int64_t n_tokens, float max_outlier_ratio,
                      bool ignore_outliers);

void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps);
void rope(float* vec, int n_heads, int head_dim, const float* cos, const float* sin);
void softmax(float* x, int64_t n);
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
void attention(const float* q, const PagedKvHead& kv, int64_t n_ctx, int head_dim, float scale, float* scratch,
               float* out);

}  // namespace ember::avx2
