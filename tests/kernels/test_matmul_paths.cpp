// The batched matmul paths one by one (the KernelTable routes each shape to one of them, so
// the table-level tests alone would leave the others untested): the AVX2 int8 kernels, the
// AVX2 float kernels, oneDNN f32 and oneDNN s8, on odd and real Qwen2.5-0.5B shapes with
// 1, 5, 64 and 512 tokens, against double-precision dots; plus thread-count independence.
// Skipped (passes trivially) on builds or CPUs without the AVX2 table.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "kernels/half.h"
#include "kernels/kernels.h"
#include "kernels/interleaved8.h"
#include "kernels/quant.h"
#include "test_util.h"
#if defined(EMBER_HAVE_AVX2_KERNELS)
#include "kernels/gemm_onednn.h"
#include "kernels/kernels_avx2.h"
#endif

using namespace ember;
using ember::test::gaussian;
using ember::test::WorstElement;

#if defined(EMBER_HAVE_AVX2_KERNELS)
namespace {

bool avx2_usable() {
    for (const KernelTable* t : usable_kernel_tables())
        if (std::strcmp(t->isa_name, "avx2") == 0) return true;
    return false;
}

// A [rows, cols] weight matrix in `dtype` and the floats it decodes to.
struct Weights {
    std::vector<uint8_t> bytes;
    std::vector<float> decoded;  // [rows, cols]
    MatrixView view;
};

Weights make_weights(DType dtype, int64_t rows, int64_t cols, uint32_t seed) {
    Weights m;
    const int64_t row_bytes = dtype_row_bytes(dtype, cols);
    m.bytes.resize(size_t(rows * row_bytes));
    m.decoded.resize(size_t(rows * cols));
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const std::vector<float> src = gaussian(size_t(cols), seed + uint32_t(r));
        uint8_t* dst = m.bytes.data() + r * row_bytes;
        float* dec = m.decoded.data() + r * cols;
        for (int64_t c = 0; c < cols; ++c) {
            if (dtype == DType::F32) std::memcpy(dst + 4 * c, &src[size_t(c)], 4), dec[c] = src[size_t(c)];
            if (dtype == DType::F16) {
                const uint16_t h = f32_to_f16(src[size_t(c)]);
                std::memcpy(dst + 2 * c, &h, 2);
                dec[c] = f16_to_f32(h);
            }
            if (dtype == DType::BF16) {
                const uint16_t h = f32_to_bf16(src[size_t(c)]);
                std::memcpy(dst + 2 * c, &h, 2);
                dec[c] = bf16_to_f32(h);
            }
        }
        if (dtype == DType::Q8) {
            quantize_row_q8_ref(src.data(), reinterpret_cast<BlockQ8*>(dst), cols);
            dequantize_row_q8_ref(reinterpret_cast<const BlockQ8*>(dst), dec, cols);
        }
        if (dtype == DType::Q4) {
            quantize_row_q4_ref(src.data(), reinterpret_cast<BlockQ4*>(dst), cols);
            dequantize_row_q4_ref(reinterpret_cast<const BlockQ4*>(dst), dec, cols);
        }
    }
    m.view = {dtype, rows, cols, m.bytes.data(), row_bytes};
    return m;
}

// x as the int8 kernels see it: each token's row through quantize_row_q8_ref and back.
std::vector<float> q8_roundtrip(const std::vector<float>& x, int64_t n_tokens, int64_t cols) {
    std::vector<float> out(x.size());
    std::vector<BlockQ8> blocks(size_t(quant_blocks_per_row(cols)));
    for (int64_t t = 0; t < n_tokens; ++t) {
        quantize_row_q8_ref(x.data() + t * cols, blocks.data(), cols);
        dequantize_row_q8_ref(blocks.data(), out.data() + t * cols, cols);
    }
    return out;
}

using MatmulFn = std::function<void(const MatrixView&, const float*, float*, int64_t)>;

struct Path {
    const char* name;
    MatmulFn fn;
};

// The int8 kernels with the AVX2 dot products, reading w's file layout.
const Path kAvx2Int8{"avx2-int8", [](const MatrixView& w, const float* x, float* y, int64_t n) {
                         avx2::matmul_quant(w, avx2::quantize_acts(x, n, w.cols), y, n, avx2::Int8Dot::kAvx2);
                     }};
// The interleaved-8 layout the AVX2 table repacks q4/q8 matrices into at load
// (kernels/interleaved8.h): a copy of w repacked in place, then the int8 kernels.
void matmul_repacked(const MatrixView& w, const float* x, float* y, int64_t n, avx2::Int8Dot dot) {
    std::vector<uint8_t> copy(static_cast<const uint8_t*>(w.data), static_cast<const uint8_t*>(w.data) + w.rows * w.row_bytes);
    MatrixView packed = w;
    packed.data = copy.data();
    if (il8::can_repack(packed)) packed = il8::repack(packed, copy.data());
    avx2::matmul_quant(packed, avx2::quantize_acts(x, n, w.cols), y, n, dot);
}
const Path kAvx2Repacked{"avx2-int8 repacked", [](const MatrixView& w, const float* x, float* y, int64_t n) {
                             matmul_repacked(w, x, y, n, avx2::Int8Dot::kAvx2);
                         }};
// Every dot-product level (avx2, avx-vnni, avx512-vnni); the test runs those this CPU has.
constexpr avx2::Int8Dot kInt8Dots[] = {avx2::Int8Dot::kAvx2, avx2::Int8Dot::kAvxVnni, avx2::Int8Dot::kAvx512Vnni};
// The int8 kernels at one level, on w's file layout or repacked.
Path int8_path(avx2::Int8Dot dot, bool repacked) {
    static const char* const names[2][3] = {
        {"avx2-int8", "avx2-int8 avx-vnni", "avx2-int8 avx512-vnni"},
        {"avx2-int8 repacked", "avx2-int8 repacked avx-vnni", "avx2-int8 repacked avx512-vnni"}};
    return {names[repacked][int(dot)], [dot, repacked](const MatrixView& w, const float* x, float* y, int64_t n) {
                if (repacked)
                    matmul_repacked(w, x, y, n, dot);
                else
                    avx2::matmul_quant(w, avx2::quantize_acts(x, n, w.cols), y, n, dot);
            }};
}
const Path kAvx2Float{"avx2-float", avx2::matmul_float};
const Path kOnednnF32{"onednn-f32", [](const MatrixView& w, const float* x, float* y, int64_t n) {
                          REQUIRE(onednn::matmul_f32(w, x, y, n, avx2::decode_rows_f32));
                      }};
const Path kOnednnF32OnQ8{"onednn-f32 on q8 activations", [](const MatrixView& w, const float* x, float* y, int64_t n) {
                              const float* xq = avx2::dequantize_acts(avx2::quantize_acts(x, n, w.cols), n, w.cols);
                              REQUIRE(onednn::matmul_f32(w, xq, y, n, avx2::decode_rows_f32));
                          }};
const Path kOnednnS8{"onednn-s8", [](const MatrixView& w, const float* x, float* y, int64_t n) {
                         REQUIRE(avx2::matmul_onednn_s8(w, x, y, n, 0.0f, true));
                     }};
const Path kTable{"avx2 table", [](const MatrixView& w, const float* x, float* y, int64_t n) {
                      for (const KernelTable* t : usable_kernel_tables())
                          if (std::strcmp(t->isa_name, "avx2") == 0) t->matmul(w, x, y, n);
                  }};

// Runs the path with a NaN canary after y; checks y[n_tokens * rows] was not written.
std::vector<float> run(const Path& p, const Weights& m, const std::vector<float>& x, int64_t n_tokens) {
    const float canary = 4321.0f;
    std::vector<float> y(size_t(n_tokens * m.view.rows) + 8, canary);
    p.fn(m.view, x.data(), y.data(), n_tokens);
    for (size_t i = size_t(n_tokens * m.view.rows); i < y.size(); ++i)
        CHECK_MESSAGE(y[i] == canary, std::string(p.name) << " wrote past y at " << i);
    y.resize(size_t(n_tokens * m.view.rows));
    return y;
}

// Tolerances, relative to S = sum_c |W[r,c] x[t,c]| with x as the path sees it: the q8/q4
// paths of the table (AVX2 int8 kernel, oneDNN f32) all see x rounded through q8 blocks
// exactly as quantize_row_q8_ref does, so they are compared with that x and the same
// f32 bounds; only the measurement-only oneDNN s8 path has a quantization term:
//  * f32 accumulation paths (AVX2 kernels sum 32-column chunks or 32-blocks, then the
//    chunks: error <= (32 + cols/32 + 4) ulps of S < 1e-5 S for cols <= 4864): 1e-5.
//  * oneDNN f32 sums K products in a long FMA chain per output; its rounding error grows
//    like a random walk, about sqrt(K) 2^-24 S = 4.2e-6 S at K = 4864: allowed 2e-5 (the
//    worst-case K 2^-24 S = 2.9e-4 S is never approached with random signs).
//  * oneDNN s8 additionally quantizes each weight row (scale sw = max|w|/127) and each
//    token row (sx = max|x|/127): |err| <= (sx/2) sum|w| + (sw/2) sum(|x| + sx/2), plus 1%
//    for the q4 re-quantization's fixed-point factor (known to 2^-11, see s8_prep_avx2.cpp),
//    plus the f32 term.
enum class Bound {
    kF32,           // f32 accumulation, exact activations
    kQ8Acts,        // f32 accumulation over q8-quantized activations (the AVX2 int8 kernels)
    kOnednnF32,     // oneDNN f32
    kOnednnQ8Acts,  // oneDNN f32 over q8-quantized activations (the table's q8/q4 paths)
    kS8,            // oneDNN s8
};

struct Want {
    double value, tol;
};

void check_path(const Path& p, Bound bound, const Weights& m, const std::vector<float>& x, int64_t n_tokens,
                const std::string& what) {
    const int64_t rows = m.view.rows, cols = m.view.cols;
    const std::vector<float> y = run(p, m, x, n_tokens);
    const bool q8 = bound == Bound::kQ8Acts || bound == Bound::kOnednnQ8Acts;
    const std::vector<float> xq = q8 ? q8_roundtrip(x, n_tokens, cols) : std::vector<float>();
    WorstElement worst;
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = x.data() + t * cols;
        const float* xqt = q8 ? xq.data() + t * cols : xt;
        double sx = 0;
        for (int64_t c = 0; c < cols; ++c) sx = std::fmax(sx, std::fabs(double(xt[c])) / 127.0);
        for (int64_t r = 0; r < rows; ++r) {
            const float* wr = m.decoded.data() + r * cols;
            double dot = 0, dot_q = 0, abs_sum = 0, abs_sum_q = 0, sum_w = 0, sum_x = 0, sw = 0;
            for (int64_t c = 0; c < cols; ++c) {
                dot += double(wr[c]) * xt[c];
                dot_q += double(wr[c]) * xqt[c];
                abs_sum += std::fabs(double(wr[c]) * xt[c]);
                abs_sum_q += std::fabs(double(wr[c]) * xqt[c]);
                sum_w += std::fabs(wr[c]);
                sum_x += std::fabs(xt[c]);
                sw = std::fmax(sw, std::fabs(double(wr[c])) / 127.0);
            }
            const Want f32{dot, 1e-5 * abs_sum + 1e-30}, onednn{dot, 2e-5 * abs_sum + 1e-30};
            const Want q8_acts{dot_q, 1e-5 * abs_sum_q + 1e-30}, onednn_q8_acts{dot_q, 2e-5 * abs_sum_q + 1e-30};
            const Want s8{dot, onednn.tol + ((sx / 2) * sum_w + (sw / 2) * (sum_x + cols * sx / 2)) * 1.01};
            const double got = y[size_t(t * rows + r)];
            Want want = f32;
            switch (bound) {
                case Bound::kF32: want = f32; break;
                case Bound::kQ8Acts: want = q8_acts; break;
                case Bound::kOnednnF32: want = onednn; break;
                case Bound::kS8: want = s8; break;
                case Bound::kOnednnQ8Acts: want = onednn_q8_acts; break;
            }
            worst.add(t * rows + r, got, want.value, want.tol);
        }
    }
    CHECK_MESSAGE(worst.within_tolerance(),
                  std::string(p.name) << " " << what << ": " << worst.describe() << " (index = t*rows + r)");
}

std::string describe(DType dtype, int64_t rows, int64_t cols, int64_t n_tokens) {
    return std::string(dtype_name(dtype)) + " " + std::to_string(rows) + "x" + std::to_string(cols) + " n_tokens " +
           std::to_string(n_tokens);
}

}  // namespace

TEST_CASE("every batched matmul path matches double precision on odd and real shapes") {
    if (!avx2_usable()) return;
    struct Case {
        int64_t rows, cols;
        std::vector<int64_t> tokens;
    };
    const Case cases[] = {
        {1, 33, {1, 5, 64}},           {7, 1023, {1, 5, 64}},     {17, 129, {1, 5, 64, 512}},
        {129, 127, {1, 5, 64, 512}},   {33, 1023, {5, 512}},      {896, 896, {1, 64, 512}},
        {128, 896, {1, 5, 512}},       {4864, 896, {1, 64}},      {896, 4864, {1, 5, 64}},
        // AVX-512 pairs (calls of 5+ tokens): 5 groups are two 16-row pairs, then a lone
        // group in its own chunk; 3 groups a pair and a lone group in one chunk. 6 and 7
        // tokens end with passes of 2 and 3 tokens.
        {40, 65, {1, 5, 64}},  {24, 96, {1, 6, 7}},
    };
    for (const avx2::Int8Dot dot : kInt8Dots)
        MESSAGE("int8 dot level " << std::string(avx2::int8_dot_name(dot)) << std::string(avx2::cpu_has(dot) ? ": tested" : ": not on this CPU"));
    for (const Case& c : cases) {
        for (DType dtype : {DType::Q4, DType::Q8, DType::F16, DType::BF16, DType::F32}) {
            const bool quant = dtype == DType::Q4 || dtype == DType::Q8;
            // Float dtypes on the big shapes add little beyond the odd ones: keep the test quick.
            if (!quant && c.rows * c.cols > 1000000) continue;
            const Weights m = make_weights(dtype, c.rows, c.cols, uint32_t(c.rows * 7 + c.cols));
            for (int64_t n : c.tokens) {
                const std::vector<float> x = gaussian(size_t(n * c.cols), uint32_t(n + c.cols));
                const std::string what = describe(dtype, c.rows, c.cols, n);
                check_path(kTable, quant ? Bound::kOnednnQ8Acts : Bound::kOnednnF32, m, x, n, what);
                check_path(quant ? kAvx2Int8 : kAvx2Float, quant ? Bound::kQ8Acts : Bound::kF32, m, x, n, what);
                if (quant) {
                    // Integer block dots are exact at every level, so the AVX-VNNI and AVX-512
                    // VNNI kernels (16-row pairs, lone groups, partial groups) agree bit for bit.
                    const std::vector<float> file = run(kAvx2Int8, m, x, n), repacked = run(kAvx2Repacked, m, x, n);
                    check_path(kAvx2Repacked, Bound::kQ8Acts, m, x, n, what + " repacked");
                    for (const avx2::Int8Dot dot : kInt8Dots) {
                        if (dot == avx2::Int8Dot::kAvx2 || !avx2::cpu_has(dot)) continue;
                        CHECK_MESSAGE(file == run(int8_path(dot, false), m, x, n), std::string(int8_path(dot, false).name) << " differs: " << what);
                        CHECK_MESSAGE(repacked == run(int8_path(dot, true), m, x, n), std::string(int8_path(dot, true).name) << " differs: " << what);
                    }
                    // One kernel family reads both layouts: the same bytes give the same sums.
                    CHECK_MESSAGE(repacked == file, "repacked differs from the file layout: " << what);
                    // Every row of every matmul goes through the same per-token arithmetic, so a
                    // token's result does not depend on how many tokens share the call: batched
                    // decode and prefill equal single-token decode bit for bit.
                    for (int64_t t = 0; t < std::min<int64_t>(n, 9); ++t) {
                        const std::vector<float> xt(x.begin() + t * c.cols, x.begin() + (t + 1) * c.cols);
                        const std::vector<float> one = run(kAvx2Repacked, m, xt, 1);
                        CHECK_MESSAGE(std::equal(one.begin(), one.begin() + c.rows, repacked.begin() + t * c.rows),
                                      "token " << t << " of a batch differs from its single-token matmul: " << what);
                    }
                }
                if (n >= 5) {
                    check_path(kOnednnF32, Bound::kOnednnF32, m, x, n, what);
                    if (quant) check_path(kOnednnF32OnQ8, Bound::kOnednnQ8Acts, m, x, n, what);
                    check_path(kOnednnS8, Bound::kS8, m, x, n, what);
                }
            }
        }
    }
}

TEST_CASE("interleaved-8 repack is a permutation of the bytes: unpack restores them, in place too") {
    for (DType dtype : {DType::Q4, DType::Q8})
    for (int64_t rows : {8, 9, 15, 16, 23, 896}) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(rows);
        const Weights m = make_weights(dtype, rows, 100, uint32_t(rows));  // 4 blocks, padded tail
        std::vector<uint8_t> packed(m.bytes.size()), back(m.bytes.size());
        const MatrixView p = il8::repack(m.view, packed.data());  // out of place
        CHECK(p.layout == WeightLayout::kInterleaved8);
        std::vector<uint8_t> in_place = m.bytes;
        MatrixView v = m.view;
        v.data = in_place.data();
        il8::repack(v, in_place.data());
        CHECK(in_place == packed);
        il8::unpack(p, back.data());
        CHECK(back == m.bytes);
        if (rows >= 16) CHECK(packed != m.bytes);  // something moved
    }
}

TEST_CASE("the q8 lm_head shape (151936 x 896) matvec matches double precision") {
    if (!avx2_usable()) return;
    const Weights m = make_weights(DType::Q8, 151936, 896, 5);
    const std::vector<float> x = gaussian(896, 6);
    check_path(kAvx2Int8, Bound::kQ8Acts, m, x, 1, describe(DType::Q8, 151936, 896, 1));
    check_path(int8_path(avx2::int8_dot(), true), Bound::kQ8Acts, m, x, 1, describe(DType::Q8, 151936, 896, 1) + " repacked");
}

TEST_CASE("batched matmul paths do not depend on the thread count") {
    if (!avx2_usable()) return;
    const int saved = omp_get_max_threads();
    for (DType dtype : {DType::Q4, DType::Q8, DType::F32}) {
        const Weights m = make_weights(dtype, 700, 896, 11);  // several oneDNN tiles and a short last one
        const std::vector<float> x = gaussian(64 * 896, 12);
        const Path best = int8_path(avx2::int8_dot(), false), best_repacked = int8_path(avx2::int8_dot(), true);
        const Path* own = dtype == DType::F32 ? &kAvx2Float : &kAvx2Int8;
        const Path* own_best = dtype == DType::F32 ? &kAvx2Float : &best;
        const Path* own_repacked = dtype == DType::F32 ? &kAvx2Float : &best_repacked;
        for (const Path* p : {own, own_best, own_repacked, &kOnednnF32, &kOnednnF32OnQ8, &kOnednnS8, &kTable}) {
            omp_set_num_threads(1);
            const std::vector<float> one = run(*p, m, x, 64);
            omp_set_num_threads(2);
            const std::vector<float> two = run(*p, m, x, 64);
            omp_set_num_threads(3);
            const std::vector<float> three = run(*p, m, x, 64);
            CHECK_MESSAGE(std::memcmp(one.data(), two.data(), one.size() * 4) == 0,
                          std::string(p->name) << " " << dtype_name(dtype) << ": 1 vs 2 threads differ");
            CHECK_MESSAGE(std::memcmp(one.data(), three.data(), one.size() * 4) == 0,
                          std::string(p->name) << " " << dtype_name(dtype) << ": 1 vs 3 threads differ");
        }
    }
    omp_set_num_threads(saved);
}

TEST_CASE("avx2 attention over long paged contexts matches the reference table") {
    if (!avx2_usable()) return;
    const KernelTable* avx2_table = nullptr;
    for (const KernelTable* t : usable_kernel_tables())
        if (std::strcmp(t->isa_name, "avx2") == 0) avx2_table = t;
    // Tolerance 1e-5 * max|V| as in test_kernels.cpp (both tables are f32; scores differ in
    // summation order only).
    for (int head_dim : {64, 128, 40}) {
        for (int64_t n_ctx : {100, 600}) {
            const int block_tokens = 16;
            const int64_t n_blocks = (n_ctx + block_tokens - 1) / block_tokens;
            std::vector<float> k = gaussian(size_t(n_blocks * block_tokens * head_dim), 21);
            std::vector<float> v = gaussian(size_t(n_blocks * block_tokens * head_dim), 22);
            std::vector<int32_t> table(static_cast<size_t>(n_blocks));
            for (int64_t b = 0; b < n_blocks; ++b) table[size_t(b)] = int32_t(n_blocks - 1 - b);  // reversed pool order
            const PagedKvHead kv{DType::F32, k.data(), v.data(), table.data(), int64_t(block_tokens) * head_dim * 4,
                                int64_t(head_dim) * 4, block_tokens};
            const std::vector<float> q = gaussian(size_t(head_dim), 23, 2.0f);
            std::vector<float> s1(static_cast<size_t>(n_ctx)), s2(s1), o1(static_cast<size_t>(head_dim)), o2(o1);
            const float scale = 1.0f / std::sqrt(float(head_dim));
            reference_kernels().attention(q.data(), kv, n_ctx, head_dim, scale, s1.data(), o1.data());
            avx2_table->attention(q.data(), kv, n_ctx, head_dim, scale, s2.data(), o2.data());
            double max_v = 0;
            for (float f : v) max_v = std::fmax(max_v, std::fabs(f));
            WorstElement worst;
            for (int d = 0; d < head_dim; ++d) worst.add(d, o2[size_t(d)], o1[size_t(d)], 1e-5 * max_v);
            CHECK_MESSAGE(worst.within_tolerance(),
                          "head_dim " << head_dim << " n_ctx " << n_ctx << ": " << worst.describe());
        }
    }
}
#endif
