// ARMv8 Advanced SIMD (NEON) KernelTables, compiled only for aarch64:
//   "neon"          ARMv8.0: every 64-bit ARM CPU (Raspberry Pi 3/4: Cortex-A53/A72).
//   "neon-dotprod"  ARMv8.2 SDOT for the int8 dots (Pi 5: Cortex-A76; HWCAP_ASIMDDP).
// The two tables share everything but the int8 block dot of the q8/q4 matmul; the dotprod
// code is compiled for ARMv8.2 in its own region (kernels_neon_quant.inc explains how), so
// the rest of the binary still runs on ARMv8.0, and dispatch.cpp only offers the dotprod
// table when the CPU reports SDOT.
//
// Numerics:
//   - f32/f16/bf16 matmul: weights widened to f32, FMA into 4 accumulators per token.
//   - q8/q4 matmul: x is quantized per 32-block exactly as quantize_row_q8_ref does, then
//     int8 x int8 dots in int32 (exact), scaled per block by scale_w * scale_x in f32.
//     Error relative to the float matmul is the activation quantization (|dx| <= scale/2
//     per element), the same choice as ggml's Q4_0 x Q8_0.
//   - exp (softmax, silu) is a Cody-Waite range reduction plus a degree-6 polynomial,
//     within ~2 ulp; sums that feed a normalisation (rmsnorm, softmax) are in f64.
// Scratch: the quantized activations live in this thread's kernels/scratch.h buffer, grown
// on first use (the largest n_tokens x cols), so later calls do not allocate.
#if !defined(__aarch64__)
#error "kernels_neon.cpp is for aarch64 only (kernels/meson.build compiles it there)"
#endif

#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/half.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/scratch.h"

namespace ember {

namespace {

// Below this many multiply-adds a matmul runs on one thread: waking the pool costs more.
constexpr int64_t kParallelMinMacs = 32768;
// Rows per parallel work item: a tile of weights (16 rows x cols) stays in L2 while every
// token group passes over it, and small matrices still split across 4 cores.
constexpr int64_t kRowTile = 16;

// ---------------------------------------------------------------- conversions

// Hardware FCVT: IEEE half -> float, exact (subnormals included), as f16_to_f32.
inline float f16_bits_to_f32(uint16_t bits) {
    __fp16 h;
    std::memcpy(&h, &bits, 2);
    return float(h);
}

// ---------------------------------------------------------------- f32 / f16 / bf16 matmul

// Weight loaders: 8 consecutive weights of a row from element c, widened to f32.
struct LoadF32 {
    static void load8(const uint8_t* row, int64_t c, float32x4_t& lo, float32x4_t& hi) {
        const float* p = reinterpret_cast<const float*>(row) + c;
        lo = vld1q_f32(p);
        hi = vld1q_f32(p + 4);
    }
    static float scalar(const uint8_t* row, int64_t c) {
        float f;
        std::memcpy(&f, row + 4 * c, 4);
        return f;
    }
};
struct LoadF16 {
    static void load8(const uint8_t* row, int64_t c, float32x4_t& lo, float32x4_t& hi) {
        const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(reinterpret_cast<const uint16_t*>(row) + c));
        lo = vcvt_f32_f16(vget_low_f16(h));
        hi = vcvt_high_f32_f16(h);
    }
    static float scalar(const uint8_t* row, int64_t c) {
        uint16_t h;
        std::memcpy(&h, row + 2 * c, 2);
        return f16_bits_to_f32(h);
    }
};
struct LoadBF16 {
    static void load8(const uint8_t* row, int64_t c, float32x4_t& lo, float32x4_t& hi) {
        const uint16x8_t h = vld1q_u16(reinterpret_cast<const uint16_t*>(row) + c);
        lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));  // bf16 is the top half of f32
        hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
    }
    static float scalar(const uint8_t* row, int64_t c) {
        uint16_t h;
        std::memcpy(&h, row + 2 * c, 2);
        return bf16_to_f32(h);
    }
};

// out[j] = dot(weight row, x token j) for NT tokens (x rows `cols` apart), 16 weights per
// step into 4 accumulators per token, then the <16 tail in scalar.
template <class Load, int NT>
inline void float_dot_row(const uint8_t* row, const float* x, int64_t cols, float* out /* [NT] */) {
    float32x4_t acc[NT][4];
    for (int j = 0; j < NT; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = vdupq_n_f32(0.0f);
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16) {
        float32x4_t w[4];
        Load::load8(row, c, w[0], w[1]);
        Load::load8(row, c + 8, w[2], w[3]);
        for (int j = 0; j < NT; ++j) {
            const float* xj = x + j * cols + c;
            for (int k = 0; k < 4; ++k) acc[j][k] = vfmaq_f32(acc[j][k], w[k], vld1q_f32(xj + 4 * k));
        }
    }
    for (int j = 0; j < NT; ++j)
        out[j] = vaddvq_f32(vaddq_f32(vaddq_f32(acc[j][0], acc[j][1]), vaddq_f32(acc[j][2], acc[j][3])));
    for (; c < cols; ++c) {
        const float wc = Load::scalar(row, c);
        for (int j = 0; j < NT; ++j) out[j] += wc * x[j * cols + c];
    }
}

template <class Load>
void matmul_float(const MatrixView& w, const float* x /* [n_tokens, cols] */, float* y /* [n_tokens, rows] */,
                  int64_t n_tokens) {
    const int64_t rows = w.rows, cols = w.cols;
    const int64_t n_tiles = (rows + kRowTile - 1) / kRowTile;
    const auto* base = static_cast<const uint8_t*>(w.data);
#pragma omp parallel for schedule(static) if (rows * cols * n_tokens > kParallelMinMacs)
    for (int64_t tile = 0; tile < n_tiles; ++tile) {
        const int64_t r0 = tile * kRowTile, r1 = std::min(rows, r0 + kRowTile);
        for (int64_t t0 = 0; t0 < n_tokens; t0 += 4) {
            const float* xt = x + t0 * cols;
            const int nt = int(std::min<int64_t>(4, n_tokens - t0));
            for (int64_t r = r0; r < r1; ++r) {
                const uint8_t* row = base + r * w.row_bytes;
                float out[4];
                switch (nt) {
                    case 4: float_dot_row<Load, 4>(row, xt, cols, out); break;
                    case 3: float_dot_row<Load, 3>(row, xt, cols, out); break;
                    case 2: float_dot_row<Load, 2>(row, xt, cols, out); break;
                    default: float_dot_row<Load, 1>(row, xt, cols, out); break;
                }
                for (int j = 0; j < nt; ++j) y[(t0 + j) * rows + r] = out[j];
            }
        }
    }
}

// ---------------------------------------------------------------- q8 / q4 matmul

// Activations quantized to q8 blocks, with each block's scale already widened to f32.
struct QuantizedX {
    const BlockQ8* blocks;   // [n_tokens, blocks_per_row]
    const float* scales;     // [n_tokens, blocks_per_row]
    int64_t blocks_per_row;  // ceil(cols / 32)
};

// The 32 weights of a block as signed int8, elements 0..15 in w0 and 16..31 in w1.
[[gnu::always_inline]] inline void load_weight_block(const BlockQ8& b, int8x16_t& w0, int8x16_t& w1) {
    w0 = vld1q_s8(b.q);
    w1 = vld1q_s8(b.q + 16);
}
[[gnu::always_inline]] inline void load_weight_block(const BlockQ4& b, int8x16_t& w0, int8x16_t& w1) {
    // Byte j holds element j (low nibble) and element j+16 (high nibble); value = nibble - 8.
    const uint8x16_t packed = vld1q_u8(b.q);
    const int8x16_t eight = vdupq_n_s8(8);
    w0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(packed, vdupq_n_u8(0x0f))), eight);
    w1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(packed, 4)), eight);
}

namespace neon_v80 {
// 32-element int8 dot without SDOT: widening multiplies into int16, pairwise adds into
// int32. Lane j ends up with elements 4j..4j+3 of both halves, exactly SDOT's lanes, so
// after the per-lane float scaling "neon" and "neon-dotprod" give bit-identical results.
// int16 lanes hold two products: |w| <= 128, |x| <= 127 (our quantizer never emits -128),
// so 2 * 128 * 127 = 32512 fits.
[[gnu::always_inline]] inline int32x4_t block_dot(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    // vpaddq_s16(products 0..7, products 8..15): lane k = elements 2k, 2k+1.
    const int16x8_t pairs0 = vpaddq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)), vmull_high_s8(w0, x0));
    const int16x8_t pairs1 = vpaddq_s16(vmull_s8(vget_low_s8(w1), vget_low_s8(x1)), vmull_high_s8(w1, x1));
    return vpadalq_s16(vpaddlq_s16(pairs0), pairs1);  // lane j: pairs 2j, 2j+1 of both halves
}
#include "kernels/kernels_neon_quant.inc"
}  // namespace neon_v80

#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
namespace neon_dotprod {
// SDOT: each int32 lane accumulates four int8 products; only reached when HWCAP_ASIMDDP.
[[gnu::always_inline]] inline int32x4_t block_dot(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
}
#include "kernels/kernels_neon_quant.inc"
}  // namespace neon_dotprod
#pragma GCC pop_options

using QuantRowsFn = void (*)(const MatrixView&, const QuantizedX&, float*, int64_t, int64_t, int64_t);

// One block of 32 activations -> q8, bit for bit what quantize_row_q8_ref stores (the
// kernel test compares against dequantize(quantize_row_q8_ref(x)) at 1e-5, so a single
// differently rounded element fails it). Returns the stored scale as f32.
inline float quantize_act_block(const float* x /* [kQBlock] */, BlockQ8& out) {
    float32x4_t v[8];
    for (int i = 0; i < 8; ++i) v[i] = vld1q_f32(x + 4 * i);
    // absmax; vmaxnm skips NaN like the reference's std::max loop.
    float32x4_t amax = vabsq_f32(v[0]);
    for (int i = 1; i < 8; ++i) amax = vmaxnmq_f32(amax, vabsq_f32(v[i]));
    const float absmax = vmaxnmvq_f32(amax);
    if (!(absmax > 0.0f)) {  // all zero: scale 0, every q 0 (as the reference)
        std::memset(&out, 0, sizeof out);
        return 0.0f;
    }
    // The reference's scale: the f16 nearest absmax/127 (FCVT rounds to nearest even, as
    // f32_to_f16), one f16 step outward if that lost magnitude, capped at 65504.
    const float d = absmax / 127.0f;
    const __fp16 nearest = __fp16(d);
    uint16_t h;
    std::memcpy(&h, &nearest, 2);
    if ((h & 0x7fffu) < 0x7c00u && f16_bits_to_f32(h) < d) ++h;
    if ((h & 0x7fffu) >= 0x7c00u) h = 0x7bffu;
    out.scale_f16 = h;
    const float scale = f16_bits_to_f32(h);
    const float32x4_t vscale = vdupq_n_f32(scale), lo = vdupq_n_f32(-127.0f), hi = vdupq_n_f32(127.0f);
    int32x4_t q[8];
    for (int i = 0; i < 8; ++i)  // clamp(nearbyint(x / scale)): division correctly rounded, FCVTNS = ties to even
        q[i] = vcvtnq_s32_f32(vminnmq_f32(vmaxnmq_f32(vdivq_f32(v[i], vscale), lo), hi));
    for (int i = 0; i < 2; ++i) {
        const int16x8_t q01 = vcombine_s16(vqmovn_s32(q[4 * i]), vqmovn_s32(q[4 * i + 1]));
        const int16x8_t q23 = vcombine_s16(vqmovn_s32(q[4 * i + 2]), vqmovn_s32(q[4 * i + 3]));
        vst1q_s8(out.q + 16 * i, vcombine_s8(vqmovn_s16(q01), vqmovn_s16(q23)));
    }
    return scale;
}

// x [n_tokens, cols] -> q8 blocks + f32 scales in this thread's activation scratch
// (kernels/scratch.h: grown on first use, reused after, so decoding does not allocate).
QuantizedX quantize_acts(const float* x, int64_t n_tokens, int64_t cols) {
    const int64_t nb = quant_blocks_per_row(cols);
    const size_t n_blocks = size_t(n_tokens * nb);
    const size_t blocks_bytes = (n_blocks * sizeof(BlockQ8) + 63) / 64 * 64;
    auto* base = static_cast<uint8_t*>(thread_scratch(ScratchSlot::kActs, blocks_bytes + n_blocks * sizeof(float)));
    auto* blocks = reinterpret_cast<BlockQ8*>(base);
    auto* scales = reinterpret_cast<float*>(base + blocks_bytes);
    const int64_t full = cols / kQBlock;
    // O(cols) per token against O(rows * cols) for the dots: threads only for long prompts.
#pragma omp parallel for schedule(static) if (n_tokens >= 16)
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = x + t * cols;
        for (int64_t b = 0; b < full; ++b) scales[t * nb + b] = quantize_act_block(xt + b * kQBlock, blocks[t * nb + b]);
        if (full < nb) {  // the tail block, zero-padded (never read past x's row)
            float padded[kQBlock] = {};
            std::copy(xt + full * kQBlock, xt + cols, padded);
            scales[t * nb + full] = quantize_act_block(padded, blocks[t * nb + full]);
        }
    }
    return {blocks, scales, nb};
}

void matmul_quant(const MatrixView& w, const float* x /* [n_tokens, cols] */, float* y /* [n_tokens, rows] */,
                  int64_t n_tokens, QuantRowsFn quant_rows) {
    const int64_t rows = w.rows, cols = w.cols;
    const QuantizedX xq = quantize_acts(x, n_tokens, cols);
    const int64_t n_tiles = (rows + kRowTile - 1) / kRowTile;
#pragma omp parallel for schedule(static) if (rows * cols * n_tokens > kParallelMinMacs)
    for (int64_t tile = 0; tile < n_tiles; ++tile)
        quant_rows(w, xq, y, n_tokens, tile * kRowTile, std::min(rows, (tile + 1) * kRowTile));
}

template <QuantRowsFn Q8Rows, QuantRowsFn Q4Rows>
void matmul_neon(const MatrixView& w, const float* x, float* y, int64_t n_tokens) {
    switch (w.dtype) {
        case DType::F32:
            return matmul_float<LoadF32>(w, x, y, n_tokens);
        case DType::F16:
            return matmul_float<LoadF16>(w, x, y, n_tokens);
        case DType::BF16:
            return matmul_float<LoadBF16>(w, x, y, n_tokens);
        case DType::Q8:
            return matmul_quant(w, x, y, n_tokens, Q8Rows);
        case DType::Q4:
            return matmul_quant(w, x, y, n_tokens, Q4Rows);
        case DType::U8:
            break;
    }
    // Not a weight dtype (a caller bug the loader prevents): loudly wrong, never stale.
    std::fill(y, y + n_tokens * w.rows, std::numeric_limits<float>::quiet_NaN());
}

// ---------------------------------------------------------------- exp

// e^x for 4 lanes: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact
// reduction), e^r by Cephes' degree-6 polynomial, 2^n built in the exponent bits.
// x > 88.376 gives +inf (2^128 is not a normal exponent), x < -87.336 gives 0 (the true
// value is a subnormal below 1.2e-38), NaN stays NaN.
inline float32x4_t exp_f32x4(float32x4_t x) {
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));  // round(x / ln2)
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));               // exact: few bits
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    const float32x4_t er = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), vdupq_n_f32(1.0f));
    const int32x4_t biased = vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127));
    const float32x4_t two_n = vreinterpretq_f32_s32(vshlq_n_s32(biased, 23));
    float32x4_t result = vmulq_f32(er, two_n);
    result = vbslq_f32(vcgtq_f32(x, vdupq_n_f32(88.3762626647949f)),
                       vdupq_n_f32(std::numeric_limits<float>::infinity()), result);
    result = vbslq_f32(vcltq_f32(x, vdupq_n_f32(-87.3365447505531f)), vdupq_n_f32(0.0f), result);
    return result;
}

inline float exp_f32(float x) {
    return vgetq_lane_f32(exp_f32x4(vdupq_n_f32(x)), 0);
}

// ---------------------------------------------------------------- elementwise

inline float dot_f32(const float* a, const float* b, int64_t n) {
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
        acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        acc2 = vfmaq_f32(acc2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        acc3 = vfmaq_f32(acc3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

void rmsnorm_neon(const float* x, const float* weight, float* out, int64_t n, float eps) {
    // Sum of squares in f64 like the reference (a float's square is exact in f64).
    float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
        const float64x2_t a0 = vcvt_f64_f32(vget_low_f32(a)), a1 = vcvt_high_f64_f32(a);
        const float64x2_t b0 = vcvt_f64_f32(vget_low_f32(b)), b1 = vcvt_high_f64_f32(b);
        s0 = vfmaq_f64(s0, a0, a0);
        s1 = vfmaq_f64(s1, a1, a1);
        s2 = vfmaq_f64(s2, b0, b0);
        s3 = vfmaq_f64(s3, b1, b1);
    }
    double sum_sq = vaddvq_f64(vaddq_f64(vaddq_f64(s0, s1), vaddq_f64(s2, s3)));
    for (; i < n; ++i) sum_sq += double(x[i]) * double(x[i]);
    const float inv_rms = float(1.0 / std::sqrt(sum_sq / double(n) + double(eps)));
    // Same rounding order as the reference and HF: (x * inv_rms) * weight.
    i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(out + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), inv_rms), vld1q_f32(weight + i)));
    for (; i < n; ++i) out[i] = (x[i] * inv_rms) * weight[i];
}

void rope_neon(float* vec /* [n_heads, head_dim] */, int n_heads, int head_dim, const float* cos,
               const float* sin) {
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; ++h) {
        float* v = vec + int64_t(h) * head_dim;
        int i = 0;
        for (; i + 4 <= half; i += 4) {
            const float32x4_t a = vld1q_f32(v + i), b = vld1q_f32(v + i + half);
            const float32x4_t c = vld1q_f32(cos + i), s = vld1q_f32(sin + i);
            vst1q_f32(v + i, vfmsq_f32(vmulq_f32(a, c), b, s));         // a cos - b sin
            vst1q_f32(v + i + half, vfmaq_f32(vmulq_f32(b, c), a, s));  // b cos + a sin
        }
        for (; i < half; ++i) {
            const float a = v[i], b = v[i + half];
            v[i] = a * cos[i] - b * sin[i];
            v[i + half] = b * cos[i] + a * sin[i];
        }
    }
}

void softmax_neon(float* x, int64_t n) {
    if (n <= 0) return;
    // vmaxnm ignores NaN like the reference's std::max loop.
    float32x4_t vmax = vdupq_n_f32(-std::numeric_limits<float>::infinity());
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vmax = vmaxnmq_f32(vmax, vld1q_f32(x + i));
    float max_x = vmaxnmvq_f32(vmax);
    for (; i < n; ++i) max_x = std::max(max_x, x[i]);
    if (max_x == -std::numeric_limits<float>::infinity()) {
        std::fill(x, x + n, 1.0f / float(n));  // everything masked: the limit of equal scores
        return;
    }
    const float32x4_t vmax_x = vdupq_n_f32(max_x);
    float64x2_t sum2 = vdupq_n_f64(0.0);
    i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t e = exp_f32x4(vsubq_f32(vld1q_f32(x + i), vmax_x));  // <= 1
        vst1q_f32(x + i, e);
        sum2 = vaddq_f64(sum2, vaddq_f64(vcvt_f64_f32(vget_low_f32(e)), vcvt_high_f64_f32(e)));
    }
    double sum = vaddvq_f64(sum2);
    for (; i < n; ++i) {
        x[i] = exp_f32(x[i] - max_x);
        sum += x[i];
    }
    const float inv_sum = float(1.0 / sum);  // sum >= 1 (the max contributes exp(0))
    i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv_sum));
    for (; i < n; ++i) x[i] *= inv_sum;
}

void silu_mul_neon(const float* gate, const float* up, float* out, int64_t n) {
    // g / (1 + exp(-g)): for g < -88 exp gives +inf and the result -0, not NaN.
    const float32x4_t one = vdupq_n_f32(1.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t g = vld1q_f32(gate + i), u = vld1q_f32(up + i);
        vst1q_f32(out + i, vmulq_f32(vdivq_f32(g, vaddq_f32(one, exp_f32x4(vnegq_f32(g)))), u));
    }
    for (; i < n; ++i) out[i] = gate[i] / (1.0f + exp_f32(-gate[i])) * up[i];
}

// ---------------------------------------------------------------- attention

const float* paged_row(const float* base, const PagedKvHead& kv, int64_t t, int head_dim) {
    const int64_t block = kv.block_table[t / kv.block_tokens];
    return base + block * kv.block_stride + (t % kv.block_tokens) * head_dim;
}

void attention_neon(const float* q /* [head_dim] */, const PagedKvHead& kv, int64_t n_ctx, int head_dim,
                    float scale, float* scratch /* [n_ctx] */, float* out /* [head_dim] */) {
    std::fill(out, out + head_dim, 0.0f);
    if (n_ctx <= 0) return;
    for (int64_t t = 0; t < n_ctx; ++t) scratch[t] = dot_f32(q, paged_row(kv.k, kv, t, head_dim), head_dim) * scale;
    softmax_neon(scratch, n_ctx);  // scratch: attention probabilities [n_ctx]
    for (int64_t t = 0; t < n_ctx; ++t) {
        const float* v = paged_row(kv.v, kv, t, head_dim);
        const float p = scratch[t];
        int d = 0;
        for (; d + 4 <= head_dim; d += 4) vst1q_f32(out + d, vfmaq_n_f32(vld1q_f32(out + d), vld1q_f32(v + d), p));
        for (; d < head_dim; ++d) out[d] += p * v[d];
    }
}

}  // namespace

const KernelTable& neon_kernels() {
    static const KernelTable table = {
        .isa_name = "neon",
        .matmul = matmul_neon<neon_v80::quant_rows<BlockQ8>, neon_v80::quant_rows<BlockQ4>>,
        .rmsnorm = rmsnorm_neon,
        .rope = rope_neon,
        .softmax = softmax_neon,
        .silu_mul = silu_mul_neon,
        .attention = attention_neon,
        .repack = nullptr,
    };
    return table;
}

// Only chosen (kernels/dispatch.cpp) when the CPU has SDOT.
const KernelTable& neon_dotprod_kernels() {
    static const KernelTable table = {
        .isa_name = "neon-dotprod",
        .matmul = matmul_neon<neon_dotprod::quant_rows<BlockQ8>, neon_dotprod::quant_rows<BlockQ4>>,
        .rmsnorm = rmsnorm_neon,
        .rope = rope_neon,
        .softmax = softmax_neon,
        .silu_mul = silu_mul_neon,
        .attention = attention_neon,
        .repack = nullptr,
    };
    return table;
}

}  // namespace ember
