// Per-op timing of kernel calls, for `ember bench --profile` (a per-op profile of decode).
//
// When enabled, kernels() hands out a table whose entries call the chosen ISA's kernels and
// add their wall time to counters: matmuls per weight shape and dtype, the other ops per op.
// Disabled (the default) it costs nothing: kernels() returns the ISA table itself. Enable it
// before building the graph that should be measured (graphs keep the table they got).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace ember {

struct OpStat {
    std::string op;              // "matmul", "rmsnorm", "rope", "softmax", "silu_mul", "attention"
    DType dtype = DType::F32;    // matmul: the weight dtype
    int64_t rows = 0, cols = 0;  // matmul: the weight shape
    int64_t calls = 0;
    int64_t tokens = 0;          // matmul: sum of n_tokens over the calls
    int64_t weight_bytes = 0;    // matmul: weight bytes touched, summed over the calls
    // Wall seconds. Attention runs inside the graph's parallel loop over heads, so its
    // thread-seconds are divided by the thread count (an estimate of its wall share).
    double seconds = 0;
};

void enable_op_profile(bool on = true);
bool op_profile_enabled();
void reset_op_profile();
// Every op seen since the last reset, matmuls first (largest time first), then the others.
std::vector<OpStat> op_profile_snapshot();

// The timing table wrapping `base` (kernels() uses it when profiling is enabled; exposed
// for tests). Only one base table per process: the first call fixes it.
const KernelTable& profiled_kernels(const KernelTable& base);

}  // namespace ember
