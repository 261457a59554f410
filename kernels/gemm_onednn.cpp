// oneDNN matmul over decoded weight tiles (see gemm_onednn.h). Compiled for generic
// x86-64: oneDNN picks its own ISA at run time; this file only describes shapes.
#include "kernels/gemm_onednn.h"

#include <omp.h>

#include <cmath>
#include <cstring>
#include <dnnl.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "kernels/scratch.h"

namespace ember::onednn {

namespace {

using dnnl::memory;
using dt = memory::data_type;

// Rows per tile: the decoded f32 tile is about this many bytes, so it stays in L2 while
// oneDNN sweeps the activations over it. Multiples of 16 keep oneDNN's N blocking whole.
constexpr int64_t kTileBytes = 512 * 1024;

int64_t tile_rows(int64_t rows, int64_t cols) {
    int64_t n = kTileBytes / (cols * 4) / 16 * 16;
    n = n < 16 ? 16 : (n > 512 ? 512 : n);
    return n < rows ? n : rows;
}

dnnl::engine& cpu_engine() {
    static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

enum class Kind { kF32, kS8 };

// One matmul shape: C[m, n] (row stride ldc) = A[m, k] . B[k, n], B stored as [n, k] rows.
struct Shape {
    int64_t m, k, n, ldc;
    Kind kind;
    bool operator<(const Shape& o) const {
        return std::tie(m, k, n, ldc, kind) < std::tie(o.m, o.k, o.n, o.ldc, o.kind);
    }
};

struct Primitive {
    dnnl::matmul matmul;
    memory::desc a, b, c, scratchpad;
};

std::unique_ptr<Primitive> create(const Shape& s) {
    const dt in = s.kind == Kind::kF32 ? dt::f32 : dt::s8;
    const memory::desc a({s.m, s.k}, in, memory::dims{s.k, 1});
    const memory::desc b({s.k, s.n}, in, memory::dims{1, s.k});  // element (k, n) at n*K + k
    const memory::desc c({s.m, s.n}, dt::f32, memory::dims{s.ldc, 1});
    dnnl::primitive_attr attr;
    // Our buffers, not the primitive's: the same primitive runs on several threads at once.
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (s.kind == Kind::kS8) attr.set_output_scales(1 << 1, {DNNL_RUNTIME_F32_VAL});  // per output column
#if DNNL_VERSION_MAJOR >= 3
    const dnnl::matmul::primitive_desc pd(cpu_engine(), a, b, c, attr);
#else
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, cpu_engine());
#endif
    return std::make_unique<Primitive>(Primitive{dnnl::matmul(pd), a, b, c, pd.scratchpad_desc()});
}

// Primitives are planned for one thread: they run inside our OpenMP region, where oneDNN
// does not nest, and a primitive planned for more threads would split work it then skips.
// Created on first use per shape (a prefill chunk size); nullptr if oneDNN cannot.
const Primitive* primitive_for(const Shape& s) {
    static std::mutex mutex;
    static std::map<Shape, std::unique_ptr<Primitive>> cache;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(s);
    if (it != cache.end()) return it->second.get();
    if (cache.size() >= 256) cache.clear();  // many distinct prompt lengths: start over
    const int saved_threads = omp_get_max_threads();
    omp_set_num_threads(1);
    std::unique_ptr<Primitive> p;
    try {
        p = create(s);
    } catch (const dnnl::error&) {
        p = nullptr;
    }
    omp_set_num_threads(saved_threads);
    return (cache[s] = std::move(p)).get();
}

dnnl::stream& thread_stream() {
    thread_local dnnl::stream stream(cpu_engine());
    return stream;
}

void* scratchpad(const Primitive& p) {
    return thread_scratch(ScratchSlot::kLibrary, p.scratchpad.get_size() + 64);
}

}  // namespace

bool f32_has_avx512() {
    static const bool avx512 = [] {
        using isa = dnnl::cpu_isa;
        const isa effective = dnnl::get_effective_cpu_isa();
        for (isa i : {isa::avx512_core, isa::avx512_core_vnni, isa::avx512_core_bf16, isa::avx512_core_amx})
            if (effective == i) return true;
        return false;
    }();
    return avx512;
}

bool matmul_f32(const MatrixView& w, const float* x, float* y, int64_t n_tokens, DecodeRows decode) {
    const int64_t K = w.cols, N = w.rows, tn = tile_rows(N, K), n_tiles = (N + tn - 1) / tn;
    const int64_t last = N - (n_tiles - 1) * tn;
    const Primitive* full = primitive_for({n_tokens, K, tn, N, Kind::kF32});
    const Primitive* tail = primitive_for({n_tokens, K, last, N, Kind::kF32});
    if (!full || !tail) return false;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_tiles; ++i) {
        const int64_t r0 = i * tn, n = i + 1 < n_tiles ? tn : last;
        const Primitive& p = i + 1 < n_tiles ? *full : *tail;
        auto* tile = static_cast<float*>(thread_scratch(ScratchSlot::kTile, size_t(tn * K) * 4));  // [n, K]
        decode(w, r0, n, tile, K);
        dnnl::engine& e = cpu_engine();
        memory a(p.a, e, const_cast<float*>(x)), b(p.b, e, tile), c(p.c, e, y + r0), sp(p.scratchpad, e, scratchpad(p));
        p.matmul.execute(thread_stream(),
                         {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}, {DNNL_ARG_SCRATCHPAD, sp}});
    }
    return true;
}

bool matmul_s8(const MatrixView& w, const int8_t* xq, const float* x_scale, float* y, int64_t n_tokens,
               const S8Ops& ops) {
    const int64_t K = w.cols, N = w.rows;
    // Tiles: <= kTileBytes of s8 weights, and at least 4 per thread for balance.
    const int64_t per_thread = (N + 4 * omp_get_max_threads() - 1) / (4 * omp_get_max_threads());
    int64_t tn = kTileBytes / K / 16 * 16;
    tn = per_thread < tn ? (per_thread + 15) / 16 * 16 : tn;
    tn = tn < 16 ? 16 : (tn > N ? N : tn);
    const int64_t n_tiles = (N + tn - 1) / tn, last = N - (n_tiles - 1) * tn;
    const Primitive* full = primitive_for({n_tokens, K, tn, N, Kind::kS8});
    const Primitive* tail = primitive_for({n_tokens, K, last, N, Kind::kS8});
    if (!full || !tail) return false;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_tiles; ++i) {
        const int64_t r0 = i * tn, n = i + 1 < n_tiles ? tn : last;
        const Primitive& p = i + 1 < n_tiles ? *full : *tail;
        // Tile: per-row scales [tn], f32 scratch row [K], s8 rows [tn, K].
        auto* buf = static_cast<uint8_t*>(thread_scratch(ScratchSlot::kTile, size_t(tn * 4 + K * 4 + tn * K)));
        auto* ws = reinterpret_cast<float*>(buf);
        auto* tmp = reinterpret_cast<float*>(buf + tn * 4);
        auto* wq = reinterpret_cast<int8_t*>(buf + tn * 4 + K * 4);
        ops.requant_rows(w, r0, n, wq, ws, tmp);
        dnnl::engine& e = cpu_engine();
        memory a(p.a, e, const_cast<int8_t*>(xq)), b(p.b, e, wq), c(p.c, e, y + r0), sp(p.scratchpad, e, scratchpad(p));
        memory scales({{n}, dt::f32, memory::format_tag::a}, e, ws);
        p.matmul.execute(thread_stream(), {{DNNL_ARG_SRC, a},
                                           {DNNL_ARG_WEIGHTS, b},
                                           {DNNL_ARG_DST, c},
                                           {DNNL_ARG_SCRATCHPAD, sp},
                                           {DNNL_ARG_ATTR_OUTPUT_SCALES, scales}});
        ops.scale_token_rows(y + r0, N, n_tokens, n, x_scale);  // the per-token activation scale
    }
    return true;
}

}  // namespace ember::onednn
