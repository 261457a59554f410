// Kernel micro-benchmark (built, never run as a test): matvec GB/s and GEMM GFLOP/s per
// real Qwen2.5-0.5B shape, for each matmul path of this build, on 1 and 2 threads.
//
//   bench_kernels [--quick] [--tokens 512] [--reps 5]
//
// Matvec (decode, one token): weights cycle through enough copies of the matrix to exceed
// the last-level cache (>= 256 MB), as a real decode streams all layers from DRAM.
// GB/s = weight bytes read / time. GEMM (prefill, --tokens): GFLOP/s = 2*rows*cols*T / time.
// Each shape runs --reps times after one warm-up; reported: the median and best wall time,
// and CPU time (per thread; for matvec summed over threads), which a shared machine disturbs less.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#if defined(EMBER_HAVE_AVX2_KERNELS)
#include "kernels/gemm_onednn.h"
#include "kernels/kernels_avx2.h"
#endif

using namespace ember;

namespace {

struct Shape {
    const char* name;
    int64_t rows, cols;
    DType dtype;
};

// Qwen2.5-0.5B, q4 layers, q8 embedding / tied lm_head.
const Shape kShapes[] = {
    {"q_proj/o_proj 896x896", 896, 896, DType::Q4},
    {"k_proj/v_proj 128x896", 128, 896, DType::Q4},
    {"gate/up 4864x896", 4864, 896, DType::Q4},
    {"down 896x4864", 896, 4864, DType::Q4},
    {"lm_head 151936x896 q8", 151936, 896, DType::Q8},
};

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_s() {  // CPU time of the whole process (all threads)
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Timing {
    double median_s;  // wall
    double min_s;     // wall, least disturbed run
    double cpu_s;     // median CPU seconds per thread: what the kernel costs when the
                      // machine is shared and the wall clock also counts other programs
};

// Times fn() `reps` times after a warm-up.
Timing time_runs(int reps, int threads, const std::function<void()>& fn) {
    fn();
    std::vector<double> wall, cpu;
    for (int i = 0; i < reps; ++i) {
        const double c0 = cpu_s(), t0 = now_s();
        fn();
        wall.push_back(now_s() - t0);
        cpu.push_back((cpu_s() - c0) / threads);
    }
    std::sort(wall.begin(), wall.end());
    std::sort(cpu.begin(), cpu.end());
    return {wall[wall.size() / 2], wall[0], cpu[cpu.size() / 2]};
}

// A random matrix in `dtype`, quantized with the reference quantizer.
std::vector<uint8_t> make_matrix(const Shape& s, uint32_t seed) {
    const int64_t row_bytes = dtype_row_bytes(s.dtype, s.cols);
    std::vector<uint8_t> bytes(size_t(s.rows * row_bytes));
#pragma omp parallel
    {
        std::mt19937 rng(seed + uint32_t(omp_get_thread_num()));
        std::normal_distribution<float> dist(0.0f, 0.02f);
        std::vector<float> row(size_t(s.cols));
#pragma omp for schedule(static)
        for (int64_t r = 0; r < s.rows; ++r) {
            for (float& v : row) v = dist(rng);
            uint8_t* dst = bytes.data() + r * row_bytes;
            if (s.dtype == DType::Q4)
                quantize_row_q4_ref(row.data(), reinterpret_cast<BlockQ4*>(dst), s.cols);
            else
                quantize_row_q8_ref(row.data(), reinterpret_cast<BlockQ8*>(dst), s.cols);
        }
    }
    return bytes;
}

MatrixView view_of(const Shape& s, const std::vector<uint8_t>& bytes) {
    return {s.dtype, s.rows, s.cols, bytes.data(), dtype_row_bytes(s.dtype, s.cols)};
}

std::vector<float> random_x(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = dist(rng);
    return x;
}

void bench_matvec(const KernelTable& table, const Shape& s, int reps) {
    const int64_t bytes = s.rows * dtype_row_bytes(s.dtype, s.cols);
    const int copies = int(std::max<int64_t>(1, (256LL << 20) / bytes));
    std::vector<std::vector<uint8_t>> mats;
    for (int i = 0; i < copies; ++i) mats.push_back(i == 0 ? make_matrix(s, 1) : mats[0]);
    const std::vector<float> x = random_x(s.cols, 2);
    std::vector<float> y(size_t(s.rows));
    for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        int next = 0;
        // One timed unit = one pass over all copies (each from DRAM).
        const Timing t = time_runs(reps, threads, [&] {
            for (int i = 0; i < copies; ++i)
                table.matmul(view_of(s, mats[size_t((next + i) % copies)]), x.data(), y.data(), 1);
            next = (next + 1) % copies;
        });
        auto gbs = [&](double sec) { return double(bytes) * copies / sec / 1e9; };
        std::printf("| matvec %-6s | %-24s | %d | %8.1f us | %6.1f | %6.1f | %6.1f |\n", table.isa_name, s.name, threads,
                    t.median_s / copies * 1e6, gbs(t.median_s), gbs(t.min_s), gbs(t.cpu_s * threads));
        std::fflush(stdout);
    }
}

using GemmFn = std::function<void(const MatrixView&, const float*, float*, int64_t)>;

void bench_gemm(const char* path, const GemmFn& fn, const Shape& s, int64_t T, int reps) {
    const std::vector<uint8_t> m = make_matrix(s, 3);
    const MatrixView w = view_of(s, m);
    const std::vector<float> x = random_x(T * s.cols, 4);
    std::vector<float> y(size_t(T * s.rows));
    for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        const Timing t = time_runs(reps, threads, [&] { fn(w, x.data(), y.data(), T); });
        auto gflops = [&](double sec) { return 2.0 * double(s.rows * s.cols * T) / sec / 1e9; };
        std::printf("| %-10s | %-24s | %lld | %d | %9.2f ms | %7.1f | %7.1f | %7.1f |\n", path, s.name, (long long)T,
                    threads, t.median_s * 1e3, gflops(t.median_s), gflops(t.min_s), gflops(t.cpu_s));
        std::fflush(stdout);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int64_t T = 512;
    int reps = 5;
    bool quick = false, no_matvec = false, no_gemm = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--tokens" && i + 1 < argc) T = std::atoll(argv[++i]);
        else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (a == "--quick") quick = true;  // skip the lm_head shape
        else if (a == "--no-matvec") no_matvec = true;
        else if (a == "--no-gemm") no_gemm = true;
        else {
            std::fprintf(stderr, "usage: bench_kernels [--quick] [--tokens T] [--reps N] [--no-matvec] [--no-gemm]\n");
            return 2;
        }
    }
    const KernelTable& best = kernels();
    std::printf("kernels: %s\n", best.isa_name);
    if (!no_matvec) {
        std::printf("\n| matvec | shape | threads | median time | GB/s (median) | GB/s (best) | GB/s (CPU time) |\n"
                    "|---|---|---|---|---|---|---|\n");
        for (const Shape& s : kShapes) {
            if (quick && s.rows > 100000) continue;
            bench_matvec(best, s, reps);
        }
    }
    if (no_gemm) return 0;
    std::printf("\n| gemm path | shape | tokens | threads | median time | GFLOP/s (median) | GFLOP/s (best) | "
                "GFLOP/s per thread (CPU time) |\n|---|---|---|---|---|---|---|---|\n");
    for (const Shape& s : kShapes) {
        if (quick && s.rows > 100000) continue;
#if defined(EMBER_HAVE_AVX2_KERNELS)
        if (best.isa_name == std::string("avx2")) {
            bench_gemm("avx2-int8", [](const MatrixView& w, const float* x, float* y, int64_t n) {
                avx2::matmul_quant(w, avx2::quantize_acts(x, n, w.cols), y, n, avx2::Int8Dot::kAvx2);
            }, s, T, reps);
            if (cpu_features().avx_vnni)
                bench_gemm("avx-vnni", [](const MatrixView& w, const float* x, float* y, int64_t n) {
                    avx2::matmul_quant(w, avx2::quantize_acts(x, n, w.cols), y, n, avx2::Int8Dot::kAvxVnni);
                }, s, T, reps);
            if (cpu_features().avx512_vnni)
                bench_gemm("avx512-vnni", [](const MatrixView& w, const float* x, float* y, int64_t n) {
                    avx2::matmul_quant(w, avx2::quantize_acts(x, n, w.cols), y, n, avx2::Int8Dot::kAvx512Vnni);
                }, s, T, reps);
            bench_gemm("onednn-f32", [](const MatrixView& w, const float* x, float* y, int64_t n) {
                onednn::matmul_f32(w, x, y, n, avx2::decode_rows_f32);
            }, s, T, reps);
            bench_gemm("onednn-s8", [](const MatrixView& w, const float* x, float* y, int64_t n) {
                avx2::matmul_onednn_s8(w, x, y, n, 0.0f, true);
            }, s, T, reps);
            continue;
        }
#endif
        bench_gemm(best.isa_name, [&](const MatrixView& w, const float* x, float* y, int64_t n) {
            best.matmul(w, x, y, n);
        }, s, T, reps);
    }
    return 0;
}
