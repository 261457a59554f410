#include "kernels/op_profile.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <tuple>

namespace ember {

namespace {

std::atomic<bool> g_enabled{false};
const KernelTable* g_base = nullptr;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Counters. Matmul and the vector ops are called from the graph's serial code; attention
// from inside a parallel loop, hence the lock (uncontended except for attention: a few
// hundred calls per decode step, each far longer than the lock).
std::mutex g_mutex;
std::map<std::tuple<int, int64_t, int64_t>, OpStat> g_matmuls;  // (dtype, rows, cols)
std::map<std::string, OpStat> g_ops;

void add_op(const char* name, double s, bool thread_time = false) {
    std::lock_guard<std::mutex> lock(g_mutex);
    OpStat& st = g_ops[name];
    st.op = name;
    st.calls += 1;
    st.seconds += thread_time ? s / std::max(1, omp_get_num_threads()) : s;
}

void matmul(const MatrixView& w, const float* x, float* y, int64_t n_tokens) {
    const auto t0 = Clock::now();
    g_base->matmul(w, x, y, n_tokens);
    const double s = seconds_since(t0);
    std::lock_guard<std::mutex> lock(g_mutex);
    OpStat& st = g_matmuls[{int(w.dtype), w.rows, w.cols}];
    st.op = "matmul";
    st.dtype = w.dtype;
    st.rows = w.rows;
    st.cols = w.cols;
    st.calls += 1;
    st.tokens += n_tokens;
    st.weight_bytes += w.rows * w.row_bytes;
    st.seconds += s;
}

void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps) {
    const auto t0 = Clock::now();
    g_base->rmsnorm(x, weight, out, n, eps);
    add_op("rmsnorm", seconds_since(t0));
}

void rope(float* vec, int n_heads, int head_dim, const float* cos, const float* sin) {
    const auto t0 = Clock::now();
    g_base->rope(vec, n_heads, head_dim, cos, sin);
    add_op("rope", seconds_since(t0));
}

void softmax(float* x, int64_t n) {
    const auto t0 = Clock::now();
    g_base->softmax(x, n);
    add_op("softmax", seconds_since(t0));
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
    const auto t0 = Clock::now();
    g_base->silu_mul(gate, up, out, n);
    add_op("silu_mul", seconds_since(t0));
}

void attention(const float* q, const PagedKvHead& kv, int64_t n_ctx, int head_dim, float scale, float* scratch,
               float* out) {
    const auto t0 = Clock::now();
    g_base->attention(q, kv, n_ctx, head_dim, scale, scratch, out);
    add_op("attention", seconds_since(t0), omp_in_parallel());
}

}  // namespace

void enable_op_profile(bool on) { g_enabled.store(on); }
bool op_profile_enabled() { return g_enabled.load(std::memory_order_relaxed); }

void reset_op_profile() {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_matmuls.clear();
    g_ops.clear();
}

std::vector<OpStat> op_profile_snapshot() {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::vector<OpStat> mm, other;
    for (const auto& [key, st] : g_matmuls) mm.push_back(st);
    for (const auto& [key, st] : g_ops) other.push_back(st);
    auto by_time = [](const OpStat& a, const OpStat& b) { return a.seconds > b.seconds; };
    std::sort(mm.begin(), mm.end(), by_time);
    std::sort(other.begin(), other.end(), by_time);
    mm.insert(mm.end(), other.begin(), other.end());
    return mm;
}

const KernelTable& profiled_kernels(const KernelTable& base) {
    static const KernelTable table = [&base] {
        g_base = &base;
        KernelTable t = base;  // isa_name stays the base's
        t.matmul = matmul;
        t.rmsnorm = rmsnorm;
        t.rope = rope;
        t.softmax = softmax;
        t.silu_mul = silu_mul;
        t.attention = attention;
        return t;
    }();
    return table;
}

}  // namespace ember
