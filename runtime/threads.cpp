#include "runtime/threads.h"

#include <omp.h>
#include <sched.h>

#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace ember {

int physical_core_count() {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 1;
    std::set<std::pair<int, int>> cores;  // (package, core) pairs
    int logical = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        ++logical;
        const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        int pkg = -1, core = -1;
        std::ifstream(base + "physical_package_id") >> pkg;
        std::ifstream(base + "core_id") >> core;
        cores.insert(core < 0 ? std::pair{-1, cpu} : std::pair{pkg, core});  // no topology: count CPUs
    }
    int n = int(cores.size());
    return n > 0 ? n : (logical > 0 ? logical : 1);
}

void set_thread_count(int n) { omp_set_num_threads(n > 0 ? n : physical_core_count()); }

}  // namespace ember
