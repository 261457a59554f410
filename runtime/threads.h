// Thread count policy: default to physical cores (hyper-threads share the FPU and the
// memory bus, which these kernels saturate).
#pragma once
#include <string>
#include <vector>

namespace ember {

// Physical cores available to this process (distinct core ids among the allowed CPUs),
// at least 1.
int physical_core_count();

// Sets the OpenMP thread count for all following parallel regions (n <= 0: physical cores).
void set_thread_count(int n);

// "0-3,6" -> {0, 1, 2, 3, 6}. Throws std::invalid_argument naming the bad part.
std::vector<int> parse_cpu_list(const std::string& list);

// --threads / --cpus: with a CPU list, pins OpenMP thread i to cpus[i % cpus.size()]
// (thread count: n_threads, or one per listed CPU when n_threads <= 0); throws
// std::invalid_argument for a CPU this process may not use. Without a list, the same as
// set_thread_count. Pinning keeps a thread's cache and stops the scheduler moving the
// threads of one parallel loop onto the same core (then every barrier waits).
void configure_threads(int n_threads, const std::string& cpu_list);

}  // namespace ember
