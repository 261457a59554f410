// Every usable KernelTable (generic plus whatever ISA this build and CPU run) against
// naive double-precision versions of each op, over odd sizes, with stated tolerances.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/half.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "test_util.h"

using namespace ember;
using ember::test::gaussian;
using ember::test::WorstElement;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// A weight matrix stored in `dtype` with rows `row_bytes` apart, plus the exact float
// values it decodes to (what every kernel must multiply by).
struct EncodedMatrix {
    std::vector<uint8_t> bytes;  // [rows, row_bytes]; gaps between rows hold NaN patterns
    std::vector<float> decoded;  // [rows, cols]
    MatrixView view;
};

EncodedMatrix encode_matrix(DType dtype, int64_t rows, int64_t cols, int64_t row_gap_bytes, uint32_t seed) {
    const std::vector<float> w = gaussian(size_t(rows * cols), seed);
    EncodedMatrix m;
    const int64_t row_bytes = dtype_row_bytes(dtype, cols) + row_gap_bytes;
    // 0xff everywhere first: as f32/f16/bf16 or as a quant scale it reads as NaN, so a
    // kernel that strays into a row gap produces NaN and fails the comparison.
    m.bytes.assign(size_t(rows * row_bytes), 0xff);
    m.decoded.resize(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
        const float* src = w.data() + r * cols;
        uint8_t* dst = m.bytes.data() + r * row_bytes;
        float* dec = m.decoded.data() + r * cols;
        switch (dtype) {
            case DType::F32:
                std::memcpy(dst, src, size_t(cols) * 4);
                std::copy(src, src + cols, dec);
                break;
            case DType::F16:
            case DType::BF16:
                for (int64_t c = 0; c < cols; ++c) {
                    const uint16_t h = dtype == DType::F16 ? f32_to_f16(src[c]) : f32_to_bf16(src[c]);
                    std::memcpy(dst + 2 * c, &h, 2);
                    dec[c] = dtype == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
                }
                break;
            case DType::Q8:
                quantize_row_q8_ref(src, reinterpret_cast<BlockQ8*>(dst), cols);
                dequantize_row_q8_ref(reinterpret_cast<const BlockQ8*>(dst), dec, cols);
                break;
            case DType::Q4:
                quantize_row_q4_ref(src, reinterpret_cast<BlockQ4*>(dst), cols);
                dequantize_row_q4_ref(reinterpret_cast<const BlockQ4*>(dst), dec, cols);
                break;
            case DType::U8:
                FAIL("not a weight dtype");
        }
    }
    m.view = {dtype, rows, cols, m.bytes.data(), row_bytes};
    return m;
}

// Runs table.matmul with NaN canaries after x and after y's n_tokens*rows outputs.
std::vector<float> run_matmul(const KernelTable& table, const EncodedMatrix& m, const std::vector<float>& x,
                              int64_t n_tokens) {
    std::vector<float> x_guarded = x;  // [n_tokens, cols] + kQBlock NaN
    x_guarded.insert(x_guarded.end(), kQBlock, kNaN);
    const float canary = 4321.0f;
    std::vector<float> y(size_t(n_tokens * m.view.rows) + 8, canary);
    table.matmul(m.view, x_guarded.data(), y.data(), n_tokens);
    for (size_t i = size_t(n_tokens * m.view.rows); i < y.size(); ++i)
        CHECK_MESSAGE(y[i] == canary, "matmul wrote past y at " << i);
    y.resize(size_t(n_tokens * m.view.rows));
    return y;
}

double dot_double(const float* a, const float* b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += double(a[i]) * b[i];
    return s;
}

}  // namespace

TEST_CASE("matmul matches double precision for every dtype and odd sizes") {
    // Tolerance: |y - y_exact| <= 1e-5 * sum_c |W[r,c] x[t,c]|. The reference sums chunks
    // of 32 in float, then the chunk sums: rounding error <= (32 + cols/32) * 2^-24 of that
    // sum, 3.8e-6 for cols = 1023. Weights are compared as decoded, so quantization error
    // is not part of this test (test_quant covers it).
    const int64_t kRows[] = {1, 3, 7, 17, 33, 127, 129};
    const int64_t kCols[] = {1, 3, 7, 17, 32, 33, 127, 129, 1023};
    for (const KernelTable* table : usable_kernel_tables()) {
        for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::Q8, DType::Q4}) {
            for (int64_t rows : kRows) {
                for (int64_t cols : kCols) {
                    for (int64_t n_tokens : {1, 5}) {
                        // Odd cases get 36 bytes of NaN between rows to test the row stride.
                        const int64_t gap = (rows + cols + n_tokens) % 2 ? 36 : 0;
                        const EncodedMatrix m =
                            encode_matrix(dtype, rows, cols, gap, uint32_t(rows * 1000 + cols));
                        const std::vector<float> x = gaussian(size_t(n_tokens * cols), uint32_t(cols + 7));
                        const std::vector<float> y = run_matmul(*table, m, x, n_tokens);
                        // q8/q4 kernels may first quantize x per block exactly as
                        // quantize_row_q8_ref does (the int8 dot kernels: DESIGN.md "int4 x
                        // int8"); such a result must meet the same tolerance against the x it
                        // saw: x_q8 = dequantize(quantize_q8(x)). Each output is compared
                        // with whichever of the two exact dots it is nearer.
                        std::vector<float> x_q8 = x;
                        if (dtype == DType::Q8 || dtype == DType::Q4) {
                            std::vector<BlockQ8> blocks(size_t(quant_blocks_per_row(cols)));
                            for (int64_t t = 0; t < n_tokens; ++t) {
                                quantize_row_q8_ref(x.data() + t * cols, blocks.data(), cols);
                                dequantize_row_q8_ref(blocks.data(), x_q8.data() + t * cols, cols);
                            }
                        }
                        WorstElement worst;
                        for (int64_t t = 0; t < n_tokens; ++t) {
                            for (int64_t r = 0; r < rows; ++r) {
                                const float* wr = m.decoded.data() + r * cols;
                                const float* xt = x.data() + t * cols;
                                double abs_sum = 0;
                                for (int64_t c = 0; c < cols; ++c)
                                    abs_sum += std::fabs(double(wr[c]) * xt[c]);
                                const double got = y[size_t(t * rows + r)];
                                const double want_x = dot_double(wr, xt, cols);
                                const double want_x_q8 = dot_double(wr, x_q8.data() + t * cols, cols);
                                worst.add(t * rows + r, got,
                                          std::fabs(got - want_x_q8) < std::fabs(got - want_x) ? want_x_q8 : want_x,
                                          1e-5 * abs_sum + 1e-30);
                            }
                        }
                        CHECK_MESSAGE(worst.within_tolerance(),
                                      std::string(table->isa_name) << " " << dtype_name(dtype) << " rows " << rows
                                                      << " cols " << cols << " n_tokens " << n_tokens
                                                      << " row gap " << gap << ": " << worst.describe()
                                                      << " (index = t*rows + r)");
                    }
                }
            }
        }
    }
}

TEST_CASE("matmul results do not depend on the thread count") {
    // 512 x 1023 is above the parallel threshold; each output must come out bit-identical.
    const int saved_threads = omp_get_max_threads();
    for (const KernelTable* table : usable_kernel_tables()) {
        for (DType dtype : {DType::F32, DType::Q4}) {
            const EncodedMatrix m = encode_matrix(dtype, 512, 1023, 0, 99);
            const std::vector<float> x = gaussian(3 * 1023, 98);
            omp_set_num_threads(1);
            const std::vector<float> one = run_matmul(*table, m, x, 3);
            omp_set_num_threads(4);
            const std::vector<float> four = run_matmul(*table, m, x, 3);
            CHECK_MESSAGE(std::memcmp(one.data(), four.data(), one.size() * 4) == 0,
                          table->isa_name << " " << dtype_name(dtype) << ": 1 vs 4 threads differ");
        }
    }
    omp_set_num_threads(saved_threads);
}

TEST_CASE("rmsnorm matches the double formula, in place too") {
    // Tolerance 1e-6 relative: three f32 roundings (1/rms, x*inv, *weight) ~ 2e-7.
    for (const KernelTable* table : usable_kernel_tables()) {
        for (int64_t n : {1, 7, 33, 896, 4096}) {
            std::vector<float> x = gaussian(size_t(n), uint32_t(n), 3.0f);
            const std::vector<float> weight = gaussian(size_t(n), uint32_t(n + 1));
            const float eps = 1e-6f;
            std::vector<float> out(static_cast<size_t>(n));
            table->rmsnorm(x.data(), weight.data(), out.data(), n, eps);

            double sum_sq = 0;
            for (float v : x) sum_sq += double(v) * v;
            const double inv_rms = 1.0 / std::sqrt(sum_sq / double(n) + eps);
            WorstElement worst;
            for (int64_t i = 0; i < n; ++i) {
                const double want = x[i] * inv_rms * weight[i];
                worst.add(i, out[i], want, 1e-6 * std::fabs(want) + 1e-30);
            }
            CHECK_MESSAGE(worst.within_tolerance(),
                          table->isa_name << " n " << n << ": " << worst.describe());

            table->rmsnorm(x.data(), weight.data(), x.data(), n, eps);  // out aliases x
            CHECK_MESSAGE(std::memcmp(x.data(), out.data(), size_t(n) * 4) == 0,
                          "in-place result differs, n " << n);
        }
    }
}

TEST_CASE("rope matches the rotate_half formula and preserves pair norms") {
    for (const KernelTable* table : usable_kernel_tables()) {
        for (int head_dim : {2, 64, 128}) {
            for (int position : {0, 7, 1000}) {
                const int n_heads = 3, half = head_dim / 2;
                std::vector<float> cos_table(static_cast<size_t>(half)), sin_table(static_cast<size_t>(half));
                for (int i = 0; i < half; ++i) {
                    const double angle = position * std::pow(10000.0, -2.0 * i / head_dim);
                    cos_table[size_t(i)] = float(std::cos(angle));
                    sin_table[size_t(i)] = float(std::sin(angle));
                }
                const std::vector<float> before =
                    gaussian(size_t(n_heads * head_dim), uint32_t(head_dim + position));
                std::vector<float> v = before;
                table->rope(v.data(), n_heads, head_dim, cos_table.data(), sin_table.data());

                // Formula tolerance: two products and a sum in f32, 1e-6 of |a| + |b|.
                // Norm tolerance: cos^2 + sin^2 of rounded floats is 1 within ~1e-7.
                WorstElement formula, norm;
                for (int h = 0; h < n_heads; ++h) {
                    for (int i = 0; i < half; ++i) {
                        const size_t lo = size_t(h * head_dim + i), hi = lo + size_t(half);
                        const double a = before[lo], b = before[hi], c = cos_table[size_t(i)],
                                     s = sin_table[size_t(i)];
                        const double tol = 1e-6 * (std::fabs(a) + std::fabs(b)) + 1e-30;
                        formula.add(int64_t(lo), v[lo], a * c - b * s, tol);
                        formula.add(int64_t(hi), v[hi], b * c + a * s, tol);
                        const double norm_before = std::hypot(a, b);
                        norm.add(int64_t(lo), std::hypot(double(v[lo]), double(v[hi])), norm_before,
                                 1e-6 * norm_before + 1e-30);
                    }
                }
                CHECK_MESSAGE(formula.within_tolerance(), table->isa_name << " head_dim " << head_dim
                                                                          << " pos " << position << ": "
                                                                          << formula.describe());
                CHECK_MESSAGE(norm.within_tolerance(), table->isa_name << " head_dim " << head_dim << " pos "
                                                                       << position << ": norm "
                                                                       << norm.describe());
            }
        }
    }
}

TEST_CASE("softmax sums to one, matches double, and is stable for large inputs") {
    auto check_softmax = [](const KernelTable& table, std::vector<float> x, const char* what) {
        const int64_t n = int64_t(x.size());
        double max_x = -INFINITY;
        for (float v : x) max_x = std::max(max_x, double(v));
        std::vector<double> want(x.size());
        double sum = 0;
        for (size_t i = 0; i < x.size(); ++i) sum += want[i] = std::exp(double(x[i]) - max_x);
        for (double& w : want) w /= sum;

        table.softmax(x.data(), n);
        // Tolerance: f32 exp and scaling, 1e-6 relative; the sum of n f32 values is within
        // n * 2^-24 of 1.
        WorstElement worst;
        double total = 0;
        for (int64_t i = 0; i < n; ++i) {
            worst.add(i, x[size_t(i)], want[size_t(i)], 1e-6 * want[size_t(i)] + 1e-12);
            total += x[size_t(i)];
        }
        CHECK_MESSAGE(worst.within_tolerance(),
                      table.isa_name << " " << what << " n " << n << ": " << worst.describe());
        CHECK_MESSAGE(std::fabs(total - 1.0) <= double(n) * 0x1p-24 + 1e-7,
                      table.isa_name << " " << what << " n " << n << ": sum " << total);
    };
    for (const KernelTable* table : usable_kernel_tables()) {
        for (int64_t n : {1, 3, 17, 1023}) {
            check_softmax(*table, gaussian(size_t(n), uint32_t(n), 5.0f), "gaussian");
            std::vector<float> large(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) large[size_t(i)] = 1000.0f - float(i % 7);  // exp(1000) overflows
            check_softmax(*table, large, "large");
            std::vector<float> masked = gaussian(size_t(n), uint32_t(n + 3));
            for (int64_t i = 1; i < n; i += 2) masked[size_t(i)] = -INFINITY;
            check_softmax(*table, masked, "masked");
        }
    }
}

TEST_CASE("silu_mul matches double, in place, and stays finite for large |gate|") {
    for (const KernelTable* table : usable_kernel_tables()) {
        for (int64_t n : {1, 7, 33, 4864}) {
            std::vector<float> gate = gaussian(size_t(n), uint32_t(n), 4.0f);
            if (n > 2) {
                gate[0] = -100.0f;  // exp(100) overflows f32: must give -0, not NaN
                gate[1] = 100.0f;
            }
            const std::vector<float> up = gaussian(size_t(n), uint32_t(n + 1));
            std::vector<float> out(static_cast<size_t>(n));
            table->silu_mul(gate.data(), up.data(), out.data(), n);
            // Tolerance: f32 exp plus three roundings, 1e-6 relative.
            WorstElement worst;
            for (int64_t i = 0; i < n; ++i) {
                const double g = gate[size_t(i)];
                const double want = g / (1.0 + std::exp(-g)) * up[size_t(i)];
                worst.add(i, out[size_t(i)], want, 1e-6 * std::fabs(want) + 1e-30);
            }
            CHECK_MESSAGE(worst.within_tolerance(),
                          table->isa_name << " n " << n << ": " << worst.describe());

            std::vector<float> in_place_gate = gate, in_place_up = up;
            table->silu_mul(in_place_gate.data(), up.data(), in_place_gate.data(), n);
            table->silu_mul(gate.data(), in_place_up.data(), in_place_up.data(), n);
            CHECK(std::memcmp(in_place_gate.data(), out.data(), size_t(n) * 4) == 0);
            CHECK(std::memcmp(in_place_up.data(), out.data(), size_t(n) * 4) == 0);
        }
    }
}

// Attention (every kv type through the paged block table): test_attention.cpp.
