#include "runtime/threads.h"

#include <omp.h>
#include <sched.h>

#include <pthread.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <set>
#include <string>
#include <utility>

namespace ember {

namespace {

// The CPUs this process may use, as they were before configure_threads pinned the main
// thread (sched_getaffinity(0) reports the calling thread's set, which pinning narrows).
const cpu_set_t& process_cpus() {
    static const cpu_set_t set = [] {
        cpu_set_t s;
        CPU_ZERO(&s);
        if (sched_getaffinity(0, sizeof s, &s) != 0) CPU_SET(0, &s);
        return s;
    }();
    return set;
}

}  // namespace

int physical_core_count() {
    const cpu_set_t allowed = process_cpus();
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

std::vector<int> parse_cpu_list(const std::string& list) {
    auto bad = [&](const std::string& why) {
        return std::invalid_argument("--cpus '" + list + "': " + why + " (expected e.g. 0,1 or 0-3,6)");
    };
    auto number = [&](const std::string& s) {
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) throw bad("'" + s + "' is not a CPU number");
        if (s.size() > 6) throw bad("CPU " + s + " is out of range");
        return std::stoi(s);
    };
    std::vector<int> cpus;
    std::stringstream in(list);
    std::string part;
    while (std::getline(in, part, ',')) {
        const size_t dash = part.find('-');
        const int first = number(part.substr(0, dash));
        const int last = dash == std::string::npos ? first : number(part.substr(dash + 1));
        if (last < first) throw bad("range " + part + " runs backwards");
        for (int c = first; c <= last; ++c)
            if (std::find(cpus.begin(), cpus.end(), c) == cpus.end()) cpus.push_back(c);
    }
    if (cpus.empty()) throw bad("no CPUs listed");
    return cpus;
}

void configure_threads(int n_threads, const std::string& cpu_list) {
    if (cpu_list.empty()) return set_thread_count(n_threads);
    const std::vector<int> cpus = parse_cpu_list(cpu_list);
    const cpu_set_t& allowed = process_cpus();
    for (int c : cpus)
        if (c >= CPU_SETSIZE || !CPU_ISSET(c, &allowed))
            throw std::invalid_argument("--cpus: CPU " + std::to_string(c) +
                                        " is not available to this process (see `taskset -p $$` or nproc)");
    const int n = n_threads > 0 ? n_threads : int(cpus.size());
    omp_set_num_threads(n);
    // Pin each thread of the team; libgomp keeps the same threads for later parallel
    // regions of this size, so the pinning holds for the whole run.
    bool failed = false;
#pragma omp parallel num_threads(n) reduction(|| : failed)
    {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpus[size_t(omp_get_thread_num()) % cpus.size()], &one);
        failed = pthread_setaffinity_np(pthread_self(), sizeof one, &one) != 0;
    }
    if (failed) throw std::runtime_error("--cpus: pinning the threads failed");
}

}  // namespace ember
