// What this CPU (and its OS) can run, detected once. Used by kernels/dispatch.cpp to
// pick a KernelTable and by tools that print the machine they ran on.
#pragma once

namespace ember {

struct CpuFeatures {
    bool avx2 = false;     // x86: AVX2, and the OS saves YMM state (XCR0), so it will not fault
    bool fma = false;      // x86: FMA3 (same OS check)
    bool f16c = false;     // x86: F16C half <-> float conversion (same OS check)
    bool avx_vnni = false; // x86: AVX-VNNI, 256-bit VPDPBUSD (same OS check); used inside the AVX2 table
    // x86: AVX-512 F + BW + VL + VNNI (512-bit VPDPBUSD), and the OS saves the opmask and
    // ZMM state (XCR0 bits 5-7); used inside the AVX2 table by the int8 kernels
    bool avx512_vnni = false;
    bool neon = false;     // aarch64: Advanced SIMD (ASIMD)
    bool dotprod = false;  // aarch64: SDOT/UDOT (ASIMDDP)
};

const CpuFeatures& cpu_features();

}  // namespace ember
