// The AVX2 KernelTable: routes each op to the AVX2 kernels (kernels/*_avx2.cpp, compiled
// with -mavx2 -mfma -mf16c) or, for prefill-sized matmuls, to oneDNN. This file itself is
// compiled for generic x86-64 (it holds no SIMD code), and dispatch.cpp hands the table out
// only when the CPU and OS support AVX2 + FMA + F16C.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "kernels/cpu_features.h"
#include "kernels/gemm_onednn.h"
#include "kernels/kernels_avx2.h"
#include "kernels/interleaved8.h"
#include "kernels/scratch.h"

namespace ember {

namespace {

// Which implementation multiplies a batch of tokens (measured per shape: docs/benchmarks.md,
// "Kernel choices"). EMBER_GEMM=avx2|onednn|onednn-s8 forces one for measurements.
//
// Numerics are the same on every path for a given weight dtype, so results do not depend
// on which one ran (or on the batch size): q8/q4 weights always multiply activations
// rounded to q8 blocks exactly as quantize_row_q8_ref does (the int8 kernels use the
// integers; the oneDNN f32 path feeds the same values as floats), float weights multiply
// f32 activations. The one exception is onednn-s8 (per-token / per-row scales), which is
// never chosen automatically: it is kept for measurements (docs/benchmarks.md).
enum class GemmPath { kAuto, kAvx2, kOnednnF32, kOnednnS8 };

GemmPath forced_gemm_path() {
    static const GemmPath path = [] {
        const char* v = std::getenv("EMBER_GEMM");
        if (v == nullptr) return GemmPath::kAuto;
        if (std::strcmp(v, "avx2") == 0) return GemmPath::kAvx2;
        if (std::strcmp(v, "onednn") == 0) return GemmPath::kOnednnF32;
        if (std::strcmp(v, "onednn-s8") == 0) return GemmPath::kOnednnS8;
        return GemmPath::kAuto;
    }();
    return path;
}

// Batches at least this large may go to oneDNN (below it the AVX2 kernels win: oneDNN's
// per-call setup and the weight-tile decode are not amortized).
constexpr int64_t kOnednnMinTokens = 16;

// onednn-s8 (opt-in) uses per-token activation scales only while they cost at most 4x the
// per-element error RMS of 32-block scales (quantize_rows_s8's ratio <= 16): that error then
// stays below a quarter of q4's own weight error, so the output error grows by under 2%.
// Rows with stronger outlier features take the exact 32-block kernel instead.
constexpr float kMaxOutlierRatio = 16.0f;

// Float weights: oneDNN f32 for batches (its f32 GEMM is several times the AVX2 FMA loop).
// q8/q4 weights: the int8 kernel (q4 with the AVX-VNNI tile where the CPU has it: fastest
// on every shape), except tall matrices (rows >= 4 cols: gate/up_proj) without AVX-VNNI
// where oneDNN runs AVX-512: there its f32 GEMM on the q8-rounded activations is ~13%
// faster at T = 256 than the plain AVX2 tile. On AVX2-only CPUs oneDNN f32 is about half
// as fast and the int8 kernel wins every shape. (docs/benchmarks.md, "Kernel choices".)
GemmPath choose(const MatrixView& w, int64_t n_tokens) {
    const GemmPath forced = forced_gemm_path();
    if (forced != GemmPath::kAuto) return n_tokens > 1 ? forced : GemmPath::kAvx2;
    if (n_tokens < kOnednnMinTokens) return GemmPath::kAvx2;
    if (w.dtype != DType::Q4 && w.dtype != DType::Q8) return GemmPath::kOnednnF32;
    if (w.dtype == DType::Q4 && avx2::int8_dot() != avx2::Int8Dot::kAvx2) return GemmPath::kAvx2;
    return w.rows >= 4 * w.cols && onednn::f32_has_avx512() ? GemmPath::kOnednnF32 : GemmPath::kAvx2;
}

void matmul_avx2(const MatrixView& w, const float* x, float* y, int64_t n_tokens) {
    const bool quant = w.dtype == DType::Q4 || w.dtype == DType::Q8;
    const bool plain = w.dtype == DType::F32 || w.dtype == DType::F16 || w.dtype == DType::BF16;
    if (!quant && !plain) {  // not a weight dtype: a caller bug; make the output loudly wrong
        for (int64_t i = 0; i < n_tokens * w.rows; ++i) y[i] = std::numeric_limits<float>::quiet_NaN();
        return;
    }
    // Repacked matrices are read by the int8 kernels only (oneDNN's row decoders expect
    // the file layout).
    switch (w.layout == WeightLayout::kRows ? choose(w, n_tokens) : GemmPath::kAvx2) {
        case GemmPath::kOnednnF32: {
            const float* xs = quant ? avx2::dequantize_acts(avx2::quantize_acts(x, n_tokens, w.cols), n_tokens, w.cols) : x;
            if (onednn::matmul_f32(w, xs, y, n_tokens, avx2::decode_rows_f32)) return;
            break;
        }
        case GemmPath::kOnednnS8:
            if (avx2::matmul_onednn_s8(w, x, y, n_tokens, kMaxOutlierRatio, false)) return;
            break;
        default:
            break;
    }
    if (quant)
        avx2::matmul_quant(w, avx2::quantize_acts(x, n_tokens, w.cols), y, n_tokens, avx2::int8_dot());
    else
        avx2::matmul_float(w, x, y, n_tokens);
}

// Q4 and Q8 matrices go to the interleaved-8 layout (kernels/interleaved8.h): decode reads
// it with far fewer instructions per weight byte than the file layout. EMBER_REPACK=0
// keeps the file layout (for A/B measurements).
MatrixView repack_avx2(const MatrixView& w, void* out) {
    static const bool enabled = [] {
        const char* v = std::getenv("EMBER_REPACK");
        return !(v != nullptr && std::strcmp(v, "0") == 0);
    }();
    if (!enabled || !il8::can_repack(w)) return w;
    return il8::repack(w, out);
}

// "avx2", or "avx2+avx-vnni" / "avx2+avx512-vnni" when the int8 kernels use VNNI.
const char* avx2_detail() {
    switch (avx2::int8_dot()) {
        case avx2::Int8Dot::kAvxVnni: return "avx2+avx-vnni";
        case avx2::Int8Dot::kAvx512Vnni: return "avx2+avx512-vnni";
        default: return "avx2";
    }
}

}  // namespace

bool avx2::cpu_has(Int8Dot dot) {
    switch (dot) {
        case Int8Dot::kAvx2: return true;  // the table itself requires AVX2
        case Int8Dot::kAvxVnni: return cpu_features().avx_vnni;
        case Int8Dot::kAvx512Vnni: return cpu_features().avx512_vnni;
    }
    return false;
}

const char* avx2::int8_dot_name(Int8Dot dot) {
    switch (dot) {
        case Int8Dot::kAvx2: return "avx2";
        case Int8Dot::kAvxVnni: return "avx-vnni";
        case Int8Dot::kAvx512Vnni: return "avx512-vnni";
    }
    return "?";
}

avx2::Int8Dot avx2::int8_dot() {
    static const Int8Dot chosen = [] {
        using enum Int8Dot;
        const Int8Dot levels[] = {kAvx512Vnni, kAvxVnni, kAvx2};  // best first
        const char* cap = std::getenv("EMBER_INT8_DOT");
        if (cap != nullptr && std::none_of(std::begin(levels), std::end(levels),
                                           [&](Int8Dot d) { return std::strcmp(cap, int8_dot_name(d)) == 0; })) {
            std::fprintf(stderr, "ember: warning: EMBER_INT8_DOT=%s: unknown (valid: avx2|avx-vnni|avx512-vnni); ignored\n",
                         cap);
            cap = nullptr;
        }
        bool at_or_below_cap = cap == nullptr;
        for (const Int8Dot dot : levels) {
            at_or_below_cap = at_or_below_cap || std::strcmp(cap, int8_dot_name(dot)) == 0;
            if (at_or_below_cap && cpu_has(dot)) return dot;
        }
        return kAvx2;
    }();
    return chosen;
}

bool avx2::matmul_onednn_s8(const MatrixView& w, const float* x, float* y, int64_t n_tokens, float max_outlier_ratio,
                            bool ignore_outliers) {
    const int64_t K = w.cols;
    auto* buf = static_cast<uint8_t*>(thread_scratch(ScratchSlot::kActs, size_t(n_tokens * (K + 4))));
    auto* scale = reinterpret_cast<float*>(buf);              // [T]
    auto* q = reinterpret_cast<int8_t*>(buf + n_tokens * 4);  // [T, K]
    const float ratio = quantize_rows_s8(x, n_tokens, K, q, scale);
    if (ratio > max_outlier_ratio && !ignore_outliers) return false;
    return onednn::matmul_s8(w, q, scale, y, n_tokens, {requant_rows_s8, scale_token_rows});
}

const KernelTable& avx2_kernels() {
    static const KernelTable table = {
        .isa_name = "avx2",
        .isa_detail = avx2_detail(),
        .matmul = matmul_avx2,
        .rmsnorm = avx2::rmsnorm,
        .rope = avx2::rope,
        .softmax = avx2::softmax,
        .silu_mul = avx2::silu_mul,
        .attention = avx2::attention,
        .repack = repack_avx2,
    };
    return table;
}

}  // namespace ember
