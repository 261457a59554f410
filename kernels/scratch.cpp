// thread_scratch: one growable, 64-byte aligned buffer per (thread, slot).
#include "kernels/scratch.h"

#include <cstdio>
#include <cstdlib>

namespace ember {

namespace {
struct ThreadBuffers {
    void* ptr[int(ScratchSlot::kCount)] = {};
    size_t size[int(ScratchSlot::kCount)] = {};
    ~ThreadBuffers() {
        for (void* p : ptr) std::free(p);
    }
};
thread_local ThreadBuffers buffers;
}  // namespace

void* thread_scratch(ScratchSlot slot, size_t bytes) {
    const int i = int(slot);
    if (bytes > buffers.size[i]) {
        std::free(buffers.ptr[i]);
        // Grow by 1/4 extra so a slowly rising size does not reallocate every call.
        const size_t want = (bytes + bytes / 4 + 63) / 64 * 64;
        buffers.ptr[i] = std::aligned_alloc(64, want);
        if (!buffers.ptr[i]) {
            // Kernels cannot throw or report; running on without the buffer would corrupt memory.
            std::fprintf(stderr, "ember: out of memory allocating %zu bytes of kernel scratch\n", want);
            std::abort();
        }
        buffers.size[i] = want;
    }
    return buffers.ptr[i];
}

}  // namespace ember
