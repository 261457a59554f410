// The kernel interface: every numeric op the model graphs use, as a table of function
// pointers chosen once at runtime for the CPU (see kernels/dispatch.cpp).
//
// kernels/ knows nothing about models: it sees matrices, vectors and paged K/V blocks.
// Kernels never throw and never allocate; callers pass scratch space. No SIMD types or
// ISA macros appear in this header.
#pragma once
#include <cstdint>
#include <string_view>

#include "dtype.h"

namespace ember {

// How a matrix's bytes are arranged. kRows: the file layout. The others are made at load
// time by a table's repack (below) and only that table's matmul reads them.
enum class WeightLayout : uint8_t {
    kRows,            // row after row, each dtype_row_bytes(dtype, cols) bytes
    kInterleaved8,  // Q4 / Q8 rows in groups of 8, block by block (kernels/interleaved8.h)
};

// A weight matrix [rows, cols] in any weight dtype. In the kRows layout each row is
// dtype_row_bytes(dtype, cols) bytes (zero-padded last block), row r at data + r * row_bytes.
struct MatrixView {
    DType dtype = DType::F32;
    int64_t rows = 0;
    int64_t cols = 0;
    const void* data = nullptr;
    int64_t row_bytes = 0;  // bytes between consecutive rows (kRows)
    WeightLayout layout = WeightLayout::kRows;
};

// K and V of one (layer, kv_head) pair, stored in fixed-size blocks of a pool.
// Token t of a sequence lives in pool block block_table[t / block_tokens], at row
// (t % block_tokens) of that block:
//   K[t] = (const uint8_t*)k + block_table[t / block_tokens] * block_stride + (t % block_tokens) * row_bytes
// (same for V). A row is head_dim values stored as `dtype`:
//   F32  head_dim floats                      row_bytes = 4 * head_dim
//   F16  head_dim IEEE halves                 row_bytes = 2 * head_dim
//   Q8   ceil(head_dim / 32) BlockQ8 (quant.h) row_bytes = 34 * ceil(head_dim / 32)
// i.e. row_bytes = dtype_row_bytes(dtype, head_dim) (rows may be further apart).
struct PagedKvHead {
    DType dtype = DType::F32;  // F32, F16 or Q8
    const void* k = nullptr;
    const void* v = nullptr;
    const int32_t* block_table = nullptr;
    int64_t block_stride = 0;  // bytes between the same (layer, head) slot of consecutive pool blocks
    int64_t row_bytes = 0;     // bytes between consecutive tokens inside a block
    int block_tokens = 0;      // tokens per pool block
};

struct KernelTable {
    const char* isa_name;  // "generic", "avx2", "neon", ... (the EMBER_ISA value)
    // What the table runs on this CPU when that says more than isa_name, e.g.
    // "avx2+avx512-vnni" (the instructions of its int8 matmuls); nullptr: isa_name.
    const char* isa_detail = nullptr;

    // y[t, r] = sum_c W[r, c] * x[t, c] for t < n_tokens.
    // x: [n_tokens, w.cols] f32, y: [n_tokens, w.rows] f32 (no aliasing).
    void (*matmul)(const MatrixView& w, const float* x, float* y, int64_t n_tokens);

    // out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i], i < n. out may alias x.
    void (*rmsnorm)(const float* x, const float* weight, float* out, int64_t n, float eps);

    // HF rotate_half RoPE on n_heads consecutive vectors of head_dim in place:
    //   v[i]      = v[i] * cos[i] - v[i+h] * sin[i]
    //   v[i+h]    = v[i+h] * cos[i] + v[i] * sin[i]        (h = head_dim / 2, i < h)
    // cos, sin: [head_dim / 2] for this position (scaling already folded in).
    void (*rope)(float* vec, int n_heads, int head_dim, const float* cos, const float* sin);

    // In-place numerically stable softmax over n values.
    void (*softmax)(float* x, int64_t n);

    // out[i] = silu(gate[i]) * up[i]; out may alias gate or up.
    void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n);

    // One query head against the first n_ctx tokens of a paged K/V head (any kv.dtype):
    //   out[head_dim] = softmax(q . K[t] * scale for t < n_ctx) @ V
    // with K and V as their stored values decoded to f32 (f16 widened, q8 = scale * q).
    // scratch: [n_ctx] floats. head_dim <= 1024 (decoded rows go through a stack buffer;
    // KvBlockPool enforces it).
    void (*attention)(const float* q, const PagedKvHead& kv, int64_t n_ctx, int head_dim, float scale,
                      float* scratch, float* out);

    // Optional (nullptr: this table reads the file layout as is). Rearranges a kRows matrix
    // into a layout this table's matmul reads faster: writes the same number of bytes
    // (rows * row_bytes) to `out` (which may be w.data itself: in place) and returns the
    // view to use from then on. Returns w unchanged, writing nothing, for matrices it does
    // not repack. Runs at load time, so it may allocate and use threads. Must be sliceable:
    // repacking rows [a, b) of w (a, b multiples of 64) on their own writes exactly bytes
    // [a * row_bytes, b * row_bytes) of the whole matrix's repack (so callers can repack
    // big matrices slice by slice); a slice it does not take (e.g. fewer rows than its
    // groups) keeps the file layout, as the last rows of a repacked matrix do.
    MatrixView (*repack)(const MatrixView& w, void* out);
};

// isa_detail where set, else isa_name: what to print as "the kernels in use".
inline const char* isa_description(const KernelTable& t) { return t.isa_detail != nullptr ? t.isa_detail : t.isa_name; }

// The scalar reference table: always built, the test oracle and the fallback.
const KernelTable& reference_kernels();

// The table chosen for this CPU, once. EMBER_ISA=generic|avx2|neon forces a choice
// (an ISA this CPU or build lacks is an error printed to stderr, then generic is used).
const KernelTable& kernels();

}  // namespace ember
