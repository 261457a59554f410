// Thread count policy: default to physical cores (hyper-threads share the FPU and the
// memory bus, which these kernels saturate).
#pragma once

namespace ember {

// Physical cores available to this process (distinct core ids among the allowed CPUs),
// at least 1.
int physical_core_count();

// Sets the OpenMP thread count for all following parallel regions (n <= 0: physical cores).
void set_thread_count(int n);

}  // namespace ember
