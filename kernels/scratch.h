// Per-thread scratch buffers for kernels that need temporary space (quantized activations,
// decoded weight tiles). The KernelTable interface has no scratch parameter, and kernels
// must not allocate in the decode loop, so each thread keeps its buffers and grows them on
// first use: the first prefill (the largest n_tokens) sizes them, and later calls of the
// same or smaller shape never allocate. The memory lives until the thread exits.
#pragma once
#include <cstddef>

namespace ember {

// Scratch slots: independent buffers, so a kernel can hold several at once.
enum class ScratchSlot {
    kActs,      // quantized activations of one matmul call (all tokens)
    kActsF32,   // activations rounded through q8 as floats (the oneDNN f32 path on q8/q4 weights)
    kTile,      // a thread's decoded / re-laid-out weight tile
    kLibrary,   // a thread's oneDNN scratchpad
    kCount
};

// At least `bytes` bytes, 64-byte aligned, owned by the calling thread; contents are not
// preserved when it grows. Not inside a hot loop: call once per kernel call (or per tile).
void* thread_scratch(ScratchSlot slot, size_t bytes);

}  // namespace ember
