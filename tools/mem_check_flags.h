// `--mem SIZE` / `--no-mem-check` for commands that load a model (run, bench; chat and serve
// reuse it): before loading, the memory planner refuses a model that does not fit
// (runtime/memory_plan.h check_model_fits) instead of letting the OOM killer end it halfway.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "kernels/dtype.h"
#include "runtime/memory_plan.h"
#include "runtime/threads.h"

namespace ember::cli {

struct MemCheckFlags {
    std::string mem;  // empty: detected budget (MemAvailable, cgroup limit)
    bool skip = false;

    void add_to(CLI::App* sub) {
        sub->add_option("--mem", mem, "Memory budget for the pre-load check instead of the detected one (e.g. 4G)");
        sub->add_flag("--no-mem-check", skip, "Load without checking that the model fits in memory");
    }

    // Throws InsufficientMemory (message: needed vs available, what would fit) unless skipped.
    // ctx 0: the commands' default min(4096, model maximum); threads 0: physical cores.
    // kv_type: the KV pool's storage type (--kv-type); kv_mem: its --kv-mem bytes (0: sized
    // for ctx). bench --parallel: parallel = the largest P, parallel_gen = the largest -n.
    void check(const std::string& model, int64_t ctx, int threads, DType kv_type, uint64_t kv_mem = 0,
               int64_t parallel = 0, int64_t parallel_gen = 0) const {
        if (skip) return;
        PlanOptions o;
        o.ctx = ctx;
        o.kv_type = kv_type;
        o.kv_mem = kv_mem;
        o.parallel = parallel;
        o.parallel_gen = parallel_gen;
        o.n_threads = threads > 0 ? threads : physical_core_count();
        check_model_fits(model, o, mem.empty() ? MemoryBudget{} : memory_budget_from_flag("--mem", mem));
    }
};

}  // namespace ember::cli
