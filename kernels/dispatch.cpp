// CPU feature detection and the once-only choice of KernelTable.
//
// Adding an ISA: compile its kernels_<isa>.cpp only for the matching target, define
// EMBER_HAVE_<ISA>_KERNELS for this file, and return its table from the *_table_if_built
// function below. The registry, EMBER_ISA handling and the tests need no change.
#include "kernels/dispatch.h"
#include "kernels/op_profile.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "kernels/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

namespace ember {

#if defined(EMBER_HAVE_AVX2_KERNELS)
const KernelTable& avx2_kernels();
#endif
#if defined(EMBER_HAVE_NEON_KERNELS)
const KernelTable& neon_kernels();
const KernelTable& neon_dotprod_kernels();
#endif

namespace {

// ---------------------------------------------------------------- CPU features

#if defined(__x86_64__) || defined(__i386__)
// XCR0: which register state the OS saves on context switch. AVX instructions fault (or
// corrupt state) unless both XMM (bit 1) and YMM (bit 2) are enabled, whatever CPUID says.
uint64_t read_xcr0() {
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));  // the opcode needs no -mxsave
    return (uint64_t(hi) << 32) | lo;
}

CpuFeatures detect_cpu_features() {
    CpuFeatures f;
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
    const bool osxsave = ecx & (1u << 27), avx = ecx & (1u << 28);
    if (!osxsave || !avx || (read_xcr0() & 0x6) != 0x6) return f;  // no usable YMM state
    f.fma = ecx & (1u << 12);
    f.f16c = ecx & (1u << 29);
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        f.avx2 = ebx & (1u << 5);
        const bool avx512 = (ebx & (1u << 16)) && (ebx & (1u << 30)) && (ebx & (1u << 31));  // F, BW, VL
        const bool vnni = ecx & (1u << 11);
        // ZMM instructions fault unless the OS also saves opmask, ZMM0-15 high halves and ZMM16-31.
        f.avx512_vnni = avx512 && vnni && (read_xcr0() & 0xe6) == 0xe6;
    }
    if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) f.avx_vnni = eax & (1u << 4);
    return f;
}
#elif defined(__aarch64__) && defined(__linux__)
CpuFeatures detect_cpu_features() {
    CpuFeatures f;
    const unsigned long hwcap = getauxval(AT_HWCAP);
    f.neon = hwcap & HWCAP_ASIMD;
    f.dotprod = hwcap & HWCAP_ASIMDDP;
    return f;
}
#elif defined(__aarch64__)
CpuFeatures detect_cpu_features() {
    CpuFeatures f;
    f.neon = true;  // ASIMD is mandatory in AArch64; dotprod detection needs an OS query not done here
    return f;
}
#else
CpuFeatures detect_cpu_features() {
    return {};
}
#endif

// ---------------------------------------------------------------- ISA registry

const KernelTable* avx2_table_if_built() {
#if defined(EMBER_HAVE_AVX2_KERNELS)
    return &avx2_kernels();
#else
    return nullptr;
#endif
}

const KernelTable* neon_table_if_built() {
#if defined(EMBER_HAVE_NEON_KERNELS)
    return &neon_kernels();
#else
    return nullptr;
#endif
}

// Same file as "neon" (kernels_neon.cpp); its q8/q4 matmul uses SDOT (ARMv8.2 dotprod).
const KernelTable* neon_dotprod_table_if_built() {
#if defined(EMBER_HAVE_NEON_KERNELS)
    return &neon_dotprod_kernels();
#else
    return nullptr;
#endif
}

struct IsaEntry {
    const char* name;          // the EMBER_ISA value and KernelTable::isa_name
    const KernelTable* table;  // nullptr: not compiled into this build
    bool (*cpu_can_run)();
};

// Most preferred first; generic is last and always usable. The AVX2 table may also use
// FMA and F16C (every AVX2 CPU since Haswell has them), so it requires all three.
std::span<const IsaEntry> isa_registry() {
    static const IsaEntry entries[] = {
        {"avx2", avx2_table_if_built(),
         [] {
             const CpuFeatures& f = cpu_features();
             return f.avx2 && f.fma && f.f16c;
         }},
        {"neon-dotprod", neon_dotprod_table_if_built(), [] { return cpu_features().neon && cpu_features().dotprod; }},
        {"neon", neon_table_if_built(), [] { return cpu_features().neon; }},
        {"generic", &reference_kernels(), [] { return true; }},
    };
    return entries;
}

bool usable(const IsaEntry& e) {
    return e.table != nullptr && e.cpu_can_run();
}

std::string valid_isa_names() {
    std::string names;
    for (const IsaEntry& e : isa_registry()) {
        if (!names.empty()) names += '|';
        names += e.name;
    }
    return names;
}

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures features = detect_cpu_features();
    return features;
}

KernelChoice choose_kernels(const char* isa_env) {
    const std::span<const IsaEntry> registry = isa_registry();
    if (isa_env == nullptr || *isa_env == '\0') {
        for (const IsaEntry& e : registry)
            if (usable(e)) return {e.table, ""};
        return {&reference_kernels(), ""};  // unreachable: generic is always usable
    }
    KernelChoice generic{&reference_kernels(), ""};
    for (const IsaEntry& e : registry) {
        if (std::strcmp(e.name, isa_env) != 0) continue;
        if (usable(e)) return {e.table, ""};
        generic.warning =
            std::string("EMBER_ISA=") + isa_env + ": " +
            (e.table == nullptr ? "not compiled into this build" : "not supported by this CPU") +
            "; using generic kernels";
        return generic;
    }
    generic.warning = std::string("EMBER_ISA=") + isa_env + ": unknown ISA (valid: " + valid_isa_names() +
                      "); using generic kernels";
    return generic;
}

std::vector<const KernelTable*> usable_kernel_tables() {
    std::vector<const KernelTable*> tables{&reference_kernels()};
    for (const IsaEntry& e : isa_registry())
        if (usable(e) && e.table != &reference_kernels()) tables.push_back(e.table);
    return tables;
}

const KernelTable& kernels() {
    static const KernelTable& chosen = []() -> const KernelTable& {
        const KernelChoice choice = choose_kernels(std::getenv("EMBER_ISA"));
        if (!choice.warning.empty()) std::fprintf(stderr, "ember: warning: %s\n", choice.warning.c_str());
        return *choice.table;
    }();
    return op_profile_enabled() ? profiled_kernels(chosen) : chosen;
}

}  // namespace ember
