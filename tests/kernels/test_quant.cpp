// Quant block formats: sizes, names, golden blocks, and the per-element error bound of
// dequantize(quantize(x)) over odd row lengths and several magnitudes.
//
// The bound (quant.cpp chooses the stored scale s as the f16 nearest the ideal scale d,
// moved one f16 step outward if rounding lost magnitude, and quantizes with s):
//   * |s| >= |fl(d)|, and |s| - |fl(d)| < one f16 step at d, so
//       |s| <= |d| * (1 + 2^-10)   (f16-normal scale)   or   |s| < |d| + 2^-24 (subnormal).
//   * q8: |x / s| <= 127 up to f32 rounding, so q = round(x / s) is never clamped and
//       |x - s*q| <= |s| * (0.5 + 127 * 2^-24) + |s*q| * 2^-24 <= 0.5 * |s| * (1 + 2^-15)
//     (the 2^-24 terms: f32 rounding of x / s and of s * q). Against the input:
//       |err| <= 0.5 * (absmax/127 * (1 + 2^-10) + 2^-24) * (1 + 2^-15).
//   * q4: same for x / s in [-8, 7.5]: |err| <= 0.5 * |s| * (1 + 2^-15). A value of the
//     opposite sign to the extreme m with x / s in (7.5, 8] is clamped to +7 and
//     |err| = |s| * (x / s - 7) <= |s| (the asymmetric-range cost of Q4_0-style blocks).
// The tests allow (1 + 2^-14) in place of (1 + 2^-15) for slack on the test's own double
// arithmetic, and check the stored scale's bounds separately.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/half.h"
#include "kernels/quant.h"
#include "test_util.h"

using namespace ember;
using ember::test::gaussian;
using ember::test::WorstElement;

namespace {

const int64_t kRowSizes[] = {1, 3, 7, 17, 31, 32, 33, 127, 129, 1023};
const float kMagnitudes[] = {1.0f, 0.02f, 1e-4f, 300.0f};  // 1e-4: f16-subnormal scales

constexpr double kStepSlack = 1.0 + 0x1p-14;  // (1 + 2^-15) of the bound, plus test slack

// Nibble of element i (0..31) of a q4 block: byte i%16, low half for i < 16.
int q4_nibble(const BlockQ4& b, int i) {
    return i < 16 ? (b.q[i] & 0x0f) : (b.q[i - 16] >> 4);
}

// Checks that the stored scale s is not smaller than the ideal d and at most one f16 step
// larger. `ideal` is absmax/127 (q8) or m/-8 (q4).
void check_scale(uint16_t scale_bits, double ideal, int64_t block) {
    const double s = f16_to_f32(scale_bits);
    if (ideal == 0.0) {
        CHECK_MESSAGE(scale_bits == 0, "block " << block << ": all-zero block must store scale 0");
        return;
    }
    CHECK_MESSAGE(std::signbit(s) == std::signbit(ideal), "block " << block);
    const double lo = std::fabs(ideal) * (1.0 - 0x1p-23);
    const double hi = std::fabs(ideal) * (1.0 + 0x1p-10) + 0x1p-24;
    CHECK_MESSAGE((std::fabs(s) >= lo && std::fabs(s) <= hi),
                  "block " << block << ": scale " << s << " outside [" << lo << ", " << hi << "]");
}

// Rows whose length is not a multiple of 32 must dequantize only n values and pad the
// tail with exact zeros (q8 q = 0, q4 nibble 8).
template <class Block>
void check_tail_is_zero(const std::vector<Block>& blocks, int64_t n);

template <>
void check_tail_is_zero(const std::vector<BlockQ8>& blocks, int64_t n) {
    for (int64_t i = n; i < int64_t(blocks.size()) * kQBlock; ++i)
        CHECK_MESSAGE(blocks[i / kQBlock].q[i % kQBlock] == 0, "padded element " << i);
}
template <>
void check_tail_is_zero(const std::vector<BlockQ4>& blocks, int64_t n) {
    for (int64_t i = n; i < int64_t(blocks.size()) * kQBlock; ++i)
        CHECK_MESSAGE(q4_nibble(blocks[i / kQBlock], int(i % kQBlock)) == 8, "padded element " << i);
}

// dequantize must write exactly n floats: the canary after them stays untouched.
template <class Block>
std::vector<float> dequantize_checked(const std::vector<Block>& blocks, int64_t n,
                                      void (*dequantize)(const Block*, float*, int64_t)) {
    const float canary = -12345.0f;
    std::vector<float> y(size_t(n) + kQBlock, canary);
    dequantize(blocks.data(), y.data(), n);
    for (size_t i = size_t(n); i < y.size(); ++i) CHECK_MESSAGE(y[i] == canary, "wrote past n at " << i);
    y.resize(size_t(n));
    return y;
}

struct ErrorStats {
    double sum_sq_err = 0, sum_sq_x = 0;
    double relative_rms() const { return std::sqrt(sum_sq_err / sum_sq_x); }
};

}  // namespace

TEST_CASE("block structs and dtype sizes") {
    CHECK(sizeof(BlockQ8) == 34);
    CHECK(sizeof(BlockQ4) == 18);
    CHECK(dtype_block_bytes(DType::Q8) == 34);
    CHECK(dtype_block_bytes(DType::Q4) == 18);
    CHECK(dtype_block_elems(DType::Q4) == 32);
    CHECK(dtype_block_elems(DType::F16) == 1);
    CHECK(dtype_row_bytes(DType::Q4, 172) == 6 * 18);  // ceil(172/32) = 6 blocks
    CHECK(dtype_row_bytes(DType::Q8, 32) == 34);
    CHECK(dtype_row_bytes(DType::Q8, 33) == 68);
    CHECK(dtype_row_bytes(DType::F32, 7) == 28);
    CHECK(dtype_row_bytes(DType::BF16, 3) == 6);
    CHECK(dtype_row_bytes(DType::U8, 5) == 5);
    CHECK(quant_blocks_per_row(1) == 1);
    CHECK(quant_blocks_per_row(64) == 2);
    CHECK(quant_blocks_per_row(65) == 3);
}

TEST_CASE("dtype names round trip") {
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8, DType::Q4, DType::U8}) {
        const auto back = dtype_from_name(dtype_name(t));
        REQUIRE(back.has_value());
        CHECK(*back == t);
    }
    CHECK(dtype_name(DType::Q4) == "q4");
    CHECK(dtype_name(DType::BF16) == "bf16");
    CHECK_FALSE(dtype_from_name("q4_0").has_value());
    CHECK_FALSE(dtype_from_name("").has_value());
    CHECK_FALSE(dtype_from_name("F32").has_value());  // names are lower case on disk
}

TEST_CASE("q8 golden block: exact scale, ties to even, zero tail") {
    // absmax 127 -> scale exactly 1, so q = round-half-even(x).
    const float x[5] = {127.0f, -63.5f, 2.5f, 0.49f, -127.0f};
    BlockQ8 b;
    quantize_row_q8_ref(x, &b, 5);
    CHECK(f16_to_f32(b.scale_f16) == 1.0f);
    CHECK(b.q[0] == 127);
    CHECK(b.q[1] == -64);  // -63.5 ties to even
    CHECK(b.q[2] == 2);    // 2.5 ties to even
    CHECK(b.q[3] == 0);
    CHECK(b.q[4] == -127);
    for (int i = 5; i < kQBlock; ++i) CHECK(b.q[i] == 0);
}

TEST_CASE("q4 golden block: extreme to nibble 0, nibble packing, opposite-sign clamp") {
    // The first largest-magnitude value is -8, so scale = -8 / -8 = 1 and nibble = x + 8.
    float x[32] = {};
    x[0] = -8.0f;   // -> nibble 0
    x[1] = 8.0f;    // same magnitude, opposite sign: 8 clamps to 7 -> nibble 15, error 1
    x[2] = 3.0f;    // -> 11
    x[3] = 0.5f;    // round-half-even(0.5) = 0 -> 8
    x[4] = 1.5f;    // -> 2 -> 10
    x[16] = -1.0f;  // element 16 lives in byte 0's high nibble -> 7
    x[31] = 6.6f;   // -> 7 -> 15, byte 15 high nibble
    BlockQ4 b;
    quantize_row_q4_ref(x, &b, 32);
    CHECK(f16_to_f32(b.scale_f16) == 1.0f);
    CHECK(b.q[0] == (0 | (7 << 4)));
    CHECK(b.q[1] == (15 | (8 << 4)));  // elements 17..19 are zero -> high nibble 8
    CHECK(b.q[2] == (11 | (8 << 4)));
    CHECK(b.q[3] == (8 | (8 << 4)));
    CHECK(b.q[4] == (10 | (8 << 4)));
    CHECK(b.q[15] == (8 | (15 << 4)));
    float y[32];
    dequantize_row_q4_ref(&b, y, 32);
    CHECK(y[0] == -8.0f);
    CHECK(y[1] == 7.0f);
    CHECK(y[16] == -1.0f);
    CHECK(y[31] == 7.0f);

    // Positive extreme: scale is negative, the extreme still maps to nibble 0.
    float z[3] = {0.25f, 4.0f, -1.0f};
    quantize_row_q4_ref(z, &b, 3);
    CHECK(f16_to_f32(b.scale_f16) == -0.5f);
    CHECK(q4_nibble(b, 1) == 0);
    CHECK(q4_nibble(b, 0) == 8 - 0);  // 0.25 / -0.5 = -0.5 -> round-half-even 0 -> 8
    CHECK(q4_nibble(b, 2) == 8 + 2);  // -1 / -0.5 = 2
    for (int i = 3; i < 32; ++i) CHECK(q4_nibble(b, i) == 8);
}

TEST_CASE("all-zero rows quantize to scale 0 and dequantize to zeros") {
    for (int64_t n : kRowSizes) {
        const std::vector<float> x(size_t(n), 0.0f);
        std::vector<BlockQ8> b8(static_cast<size_t>(quant_blocks_per_row(n)));
        std::vector<BlockQ4> b4(static_cast<size_t>(quant_blocks_per_row(n)));
        quantize_row_q8_ref(x.data(), b8.data(), n);
        quantize_row_q4_ref(x.data(), b4.data(), n);
        for (size_t b = 0; b < b8.size(); ++b) {
            CHECK(b8[b].scale_f16 == 0);
            CHECK(b4[b].scale_f16 == 0);
            for (int i = 0; i < kQBlock; ++i) CHECK(b8[b].q[i] == 0);
            for (int j = 0; j < kQBlock / 2; ++j) CHECK(b4[b].q[j] == 0x88);
        }
        for (float v : dequantize_checked(b8, n, dequantize_row_q8_ref)) CHECK(v == 0.0f);
        for (float v : dequantize_checked(b4, n, dequantize_row_q4_ref)) CHECK(v == 0.0f);
    }
}

TEST_CASE("q8 round-trip error is within half a step of the stored scale") {
    double worst_vs_input_bound = 0;
    for (float magnitude : kMagnitudes) {
        for (int64_t n : kRowSizes) {
            CAPTURE(n);
            CAPTURE(magnitude);
            const std::vector<float> x = gaussian(size_t(n), uint32_t(n * 7 + 1), magnitude);
            std::vector<BlockQ8> blocks(static_cast<size_t>(quant_blocks_per_row(n)));
            quantize_row_q8_ref(x.data(), blocks.data(), n);
            check_tail_is_zero(blocks, n);
            const std::vector<float> y = dequantize_checked(blocks, n, dequantize_row_q8_ref);

            WorstElement vs_scale, vs_input;
            for (int64_t b = 0; b < int64_t(blocks.size()); ++b) {
                const int64_t begin = b * kQBlock, end = std::min<int64_t>(n, begin + kQBlock);
                double absmax = 0;
                for (int64_t i = begin; i < end; ++i) absmax = std::max(absmax, std::fabs(double(x[i])));
                check_scale(blocks[b].scale_f16, double(float(absmax / 127)), b);
                const double s = std::fabs(double(f16_to_f32(blocks[b].scale_f16)));
                const double input_bound = 0.5 * (absmax / 127 * (1 + 0x1p-10) + 0x1p-24) * kStepSlack;
                for (int64_t i = begin; i < end; ++i) {
                    vs_scale.add(i, y[i], x[i], 0.5 * s * kStepSlack);
                    vs_input.add(i, y[i], x[i], input_bound);
                }
            }
            CHECK_MESSAGE(vs_scale.within_tolerance(), vs_scale.describe());
            CHECK_MESSAGE(vs_input.within_tolerance(), vs_input.describe());
            worst_vs_input_bound = std::max(worst_vs_input_bound, vs_input.ratio());
        }
    }
    MESSAGE("q8 worst |err| / bound(0.5*(absmax/127*(1+2^-10)+2^-24)) = " << worst_vs_input_bound);
}

TEST_CASE("q4 round-trip error: half a step, one step for the clamped opposite extreme") {
    double worst_unclamped = 0, worst_clamped = 0;
    int64_t clamped_elements = 0, elements = 0;
    for (float magnitude : kMagnitudes) {
        for (int64_t n : kRowSizes) {
            CAPTURE(n);
            CAPTURE(magnitude);
            const std::vector<float> x = gaussian(size_t(n), uint32_t(n * 13 + 5), magnitude);
            std::vector<BlockQ4> blocks(static_cast<size_t>(quant_blocks_per_row(n)));
            quantize_row_q4_ref(x.data(), blocks.data(), n);
            check_tail_is_zero(blocks, n);
            const std::vector<float> y = dequantize_checked(blocks, n, dequantize_row_q4_ref);

            WorstElement unclamped, clamped;
            for (int64_t b = 0; b < int64_t(blocks.size()); ++b) {
                const int64_t begin = b * kQBlock, end = std::min<int64_t>(n, begin + kQBlock);
                double extreme = 0;  // first value of largest magnitude
                for (int64_t i = begin; i < end; ++i)
                    if (std::fabs(x[i]) > std::fabs(extreme)) extreme = x[i];
                check_scale(blocks[b].scale_f16, extreme / -8, b);
                const double s = f16_to_f32(blocks[b].scale_f16);
                for (int64_t i = begin; i < end; ++i) {
                    const double steps = s == 0 ? 0 : x[i] / s;
                    ++elements;
                    if (steps > 7.5) {
                        ++clamped_elements;
                        clamped.add(i, y[i], x[i], std::fabs(s) * (steps - 7) * kStepSlack);
                        CHECK_MESSAGE(y[i] == float(7 * s),
                                      "clamped element " << i << " must decode as +7 steps");
                    } else {
                        unclamped.add(i, y[i], x[i], 0.5 * std::fabs(s) * kStepSlack);
                    }
                }
                if (extreme != 0) {
                    // The extreme element itself always maps to nibble 0.
                    for (int64_t i = begin; i < end; ++i)
                        if (x[i] == extreme) CHECK(q4_nibble(blocks[b], int(i - begin)) == 0);
                }
            }
            CHECK_MESSAGE(unclamped.within_tolerance(), unclamped.describe());
            CHECK_MESSAGE(clamped.within_tolerance(), clamped.describe());
            worst_unclamped = std::max(worst_unclamped, unclamped.ratio());
            worst_clamped = std::max(worst_clamped, clamped.ratio());
        }
    }
    MESSAGE("q4 worst |err| / (0.5*|scale|) = "
            << worst_unclamped << "; clamped opposite extremes: " << clamped_elements << " of " << elements
            << " elements, worst |err| / (|scale|*(x/scale-7)) = " << worst_clamped);
}

TEST_CASE("relative RMS quantization error on Gaussian data") {
    // 256 rows of 4096 N(0,1) values: what a model's weights roughly look like per block.
    const int64_t rows = 256, cols = 4096;
    const std::vector<float> x = gaussian(size_t(rows * cols), 2024);
    ErrorStats q8, q4;
    std::vector<BlockQ8> b8(static_cast<size_t>(quant_blocks_per_row(cols)));
    std::vector<BlockQ4> b4(static_cast<size_t>(quant_blocks_per_row(cols)));
    std::vector<float> y(static_cast<size_t>(cols));
    double q8_worst_abs = 0, q4_worst_abs = 0;
    for (int64_t r = 0; r < rows; ++r) {
        const float* row = x.data() + r * cols;
        quantize_row_q8_ref(row, b8.data(), cols);
        dequantize_row_q8_ref(b8.data(), y.data(), cols);
        for (int64_t c = 0; c < cols; ++c) {
            const double e = double(y[c]) - row[c];
            q8.sum_sq_err += e * e;
            q8.sum_sq_x += double(row[c]) * row[c];
            q8_worst_abs = std::max(q8_worst_abs, std::fabs(e));
        }
        quantize_row_q4_ref(row, b4.data(), cols);
        dequantize_row_q4_ref(b4.data(), y.data(), cols);
        for (int64_t c = 0; c < cols; ++c) {
            const double e = double(y[c]) - row[c];
            q4.sum_sq_err += e * e;
            q4.sum_sq_x += double(row[c]) * row[c];
            q4_worst_abs = std::max(q4_worst_abs, std::fabs(e));
        }
    }
    MESSAGE("Gaussian N(0,1), " << rows << "x" << cols << ": q8 relative RMS error " << q8.relative_rms()
                                << " (worst abs " << q8_worst_abs << "), q4 relative RMS error "
                                << q4.relative_rms() << " (worst abs " << q4_worst_abs << ")");
    // Uniform rounding error of step s has RMS s/sqrt(12); the absmax of 32 N(0,1) samples
    // averages ~2.35, which predicts 2.35/127/sqrt(12) = 0.0053 (q8) and 2.35/8/sqrt(12) =
    // 0.085 (q4, plus a little from the clamped +8 case). Well above means a broken scale.
    CHECK(q8.relative_rms() < 0.006);
    CHECK(q4.relative_rms() < 0.095);
}
