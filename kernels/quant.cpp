// Scalar reference quantize / dequantize for BlockQ8 and BlockQ4: the one definition of
// what a quant block means, shared by the converter, the reference kernels and the tests.
//
// Scale rounding (a choice this file makes, documented in quant.h): the ideal scale
// d = absmax/127 (q8) or m/-8 (q4) is stored as the f16 nearest to d, bumped one f16 step
// away from zero if that nearest value is smaller in magnitude than d. Values are then
// quantized with the *stored* scale. Consequences:
//   - |x / scale| never exceeds 127 (q8) or 8 (q4) beyond float rounding, so no element is
//     clamped because the scale rounded down, and |x - scale*q| <= |scale|/2 holds for
//     every q8 element and every q4 element but the opposite-sign extreme (see below);
//   - |scale| - |d| is at most one f16 step: relative 2^-10 for normal f16 scales, absolute
//     2^-24 when d is in the f16 subnormal range (q8 absmax below ~7.8e-3), where plain
//     round-to-nearest could shrink the scale by up to a third and clamp the extremes.
// q4 is asymmetric like ggml's Q4_0: the extreme m maps to nibble 0 (-8) exactly, while a
// value of opposite sign and similar magnitude can only reach +7, an error of up to one step.
#include "kernels/quant.h"

#include <algorithm>
#include <cmath>

#include "kernels/half.h"

namespace ember {

namespace {
constexpr uint16_t kF16SignBit = 0x8000u;
constexpr uint16_t kF16Inf = 0x7c00u;
constexpr uint16_t kF16MaxFinite = 0x7bffu;  // 65504

// The f16 scale to store for the ideal scale d: nearest f16, moved one step away from zero
// if that lost magnitude; capped at the largest finite f16 (weights that large saturate).
uint16_t f16_scale_not_below(float d) {
    uint16_t h = f32_to_f16(d);
    // f16 bit patterns of one sign are ordered by magnitude, so +1 is the next step outward.
    if ((h & 0x7fffu) < kF16Inf && std::fabs(f16_to_f32(h)) < std::fabs(d)) ++h;
    if ((h & 0x7fffu) >= kF16Inf) h = uint16_t((h & kF16SignBit) | kF16MaxFinite);  // inf, NaN
    return h;
}

// round(x / scale) clamped to [lo, hi]; scale 0 gives 0. NaN inputs end at a bound
// (fmax drops NaN) rather than reaching an undefined float->int conversion.
int quantize_value(float x, float scale, float lo, float hi) {
    if (scale == 0.0f) return 0;
    return int(std::fmin(std::fmax(std::nearbyint(x / scale), lo), hi));
}

void quantize_block_q8(const float* x /* [kQBlock] */, BlockQ8& out) {
    float absmax = 0.0f;
    for (int i = 0; i < kQBlock; ++i) absmax = std::max(absmax, std::fabs(x[i]));
    out.scale_f16 = absmax == 0.0f ? uint16_t(0) : f16_scale_not_below(absmax / 127.0f);
    const float scale = f16_to_f32(out.scale_f16);
    for (int i = 0; i < kQBlock; ++i) out.q[i] = int8_t(quantize_value(x[i], scale, -127.0f, 127.0f));
}

void quantize_block_q4(const float* x /* [kQBlock] */, BlockQ4& out) {
    // The signed value of largest magnitude (the first one on ties).
    float absmax = 0.0f, extreme = 0.0f;
    for (int i = 0; i < kQBlock; ++i) {
        if (std::fabs(x[i]) > absmax) {
            absmax = std::fabs(x[i]);
            extreme = x[i];
        }
    }
    out.scale_f16 = absmax == 0.0f ? uint16_t(0) : f16_scale_not_below(extreme / -8.0f);
    const float scale = f16_to_f32(out.scale_f16);
    uint8_t nibble[kQBlock];
    for (int i = 0; i < kQBlock; ++i) nibble[i] = uint8_t(quantize_value(x[i], scale, -8.0f, 7.0f) + 8);
    for (int j = 0; j < kQBlock / 2; ++j) out.q[j] = uint8_t(nibble[j] | (nibble[j + kQBlock / 2] << 4));
}

// Runs quantize_block over ceil(n/32) blocks; the last block's tail is quantized as zeros.
template <class Block, class QuantizeBlock>
void quantize_row(const float* x, Block* out, int64_t n, QuantizeBlock quantize_block) {
    const int64_t full_blocks = n / kQBlock;
    for (int64_t b = 0; b < full_blocks; ++b) quantize_block(x + b * kQBlock, out[b]);
    const int64_t tail = n - full_blocks * kQBlock;
    if (tail > 0) {
        float padded[kQBlock] = {};
        std::copy(x + full_blocks * kQBlock, x + n, padded);
        quantize_block(padded, out[full_blocks]);
    }
}
}  // namespace

void quantize_row_q8_ref(const float* x, BlockQ8* out, int64_t n) {
    quantize_row(x, out, n, quantize_block_q8);
}

void quantize_row_q4_ref(const float* x, BlockQ4* out, int64_t n) {
    quantize_row(x, out, n, quantize_block_q4);
}

void dequantize_row_q8_ref(const BlockQ8* in, float* y, int64_t n) {
    for (int64_t b = 0; b * kQBlock < n; ++b) {
        const float scale = f16_to_f32(in[b].scale_f16);
        const int64_t count = std::min<int64_t>(kQBlock, n - b * kQBlock);
        for (int64_t i = 0; i < count; ++i) y[b * kQBlock + i] = scale * float(in[b].q[i]);
    }
}

void dequantize_row_q4_ref(const BlockQ4* in, float* y, int64_t n) {
    constexpr int kHalf = kQBlock / 2;
    for (int64_t b = 0; b * kQBlock < n; ++b) {
        const float scale = f16_to_f32(in[b].scale_f16);
        const int64_t count = std::min<int64_t>(kQBlock, n - b * kQBlock);
        for (int64_t i = 0; i < count; ++i) {
            const int nibble = i < kHalf ? (in[b].q[i] & 0x0f) : (in[b].q[i - kHalf] >> 4);
            y[b * kQBlock + i] = scale * float(nibble - 8);
        }
    }
}

}  // namespace ember
