// ISA selection: EMBER_ISA values, fallbacks with warnings, and feature detection
// cross-checked against what the Linux kernel reports in /proc/cpuinfo.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

using namespace ember;

namespace {
const KernelTable* usable_table_named(const char* name) {
    for (const KernelTable* t : usable_kernel_tables())
        if (std::strcmp(t->isa_name, name) == 0) return t;
    return nullptr;
}

// The whitespace-separated words of the first /proc/cpuinfo line starting with `key`.
std::set<std::string> cpuinfo_words(const std::string& key) {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key, 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        std::set<std::string> out;
        for (std::string w; words >> w;) out.insert(w);
        return out;
    }
    return {};
}
}  // namespace

TEST_CASE("EMBER_ISA=generic selects the reference table without a warning") {
    const KernelChoice c = choose_kernels("generic");
    CHECK(c.table == &reference_kernels());
    CHECK(std::string(c.table->isa_name) == "generic");
    CHECK(c.warning.empty());
}

TEST_CASE("EMBER_ISA unset picks a usable table, silently") {
    for (const char* unset : {static_cast<const char*>(nullptr), ""}) {
        const KernelChoice c = choose_kernels(unset);
        REQUIRE(c.table != nullptr);
        CHECK(usable_table_named(c.table->isa_name) == c.table);
        CHECK(c.warning.empty());
    }
}

TEST_CASE("EMBER_ISA naming an unusable or unknown ISA falls back to generic with a warning") {
    for (const char* isa : {"avx2", "neon"}) {
        const KernelChoice c = choose_kernels(isa);
        if (const KernelTable* t = usable_table_named(isa)) {
            CHECK(c.table == t);
            CHECK(c.warning.empty());
        } else {
            CHECK(c.table == &reference_kernels());
            CHECK_MESSAGE(c.warning.find(isa) != std::string::npos, c.warning);
            CHECK(c.warning.find('\n') == std::string::npos);  // one line
        }
    }
    const KernelChoice bogus = choose_kernels("avx512-turbo");
    CHECK(bogus.table == &reference_kernels());
    CHECK_MESSAGE(bogus.warning.find("unknown") != std::string::npos, bogus.warning);
    CHECK_MESSAGE(bogus.warning.find("valid:") != std::string::npos, bogus.warning);  // lists valid names
    CHECK_MESSAGE(bogus.warning.find("generic") != std::string::npos, bogus.warning);
    CHECK_MESSAGE(bogus.warning.find("avx2") != std::string::npos, bogus.warning);
    CHECK_MESSAGE(bogus.warning.find("neon") != std::string::npos, bogus.warning);
}

TEST_CASE("kernels() is the choice EMBER_ISA asks for") {
    // Run by meson both with EMBER_ISA unset and with EMBER_ISA=generic.
    CHECK(&kernels() == choose_kernels(std::getenv("EMBER_ISA")).table);
    CHECK(&kernels() == &kernels());
}

TEST_CASE("usable tables: generic first, names unique") {
    const auto tables = usable_kernel_tables();
    REQUIRE(!tables.empty());
    CHECK(tables.front() == &reference_kernels());
    std::set<std::string> names;
    for (const KernelTable* t : tables) CHECK_MESSAGE(names.insert(t->isa_name).second, t->isa_name);
}

TEST_CASE("CPU features agree with /proc/cpuinfo") {
    const CpuFeatures& f = cpu_features();
#if defined(__x86_64__) && defined(__linux__)
    // Linux lists avx2/fma/f16c only when the OS has enabled AVX state, the same
    // condition detection checks via XGETBV.
    const std::set<std::string> flags = cpuinfo_words("flags");
    if (flags.empty()) return;  // no /proc: nothing to compare with
    CHECK(f.avx2 == (flags.count("avx2") == 1));
    CHECK(f.fma == (flags.count("fma") == 1));
    CHECK(f.f16c == (flags.count("f16c") == 1));
    CHECK(f.avx_vnni == (flags.count("avx_vnni") == 1));
    CHECK(f.avx512_vnni == (flags.count("avx512f") + flags.count("avx512bw") + flags.count("avx512vl") +
                                flags.count("avx512_vnni") ==
                            4));
    CHECK_FALSE(f.neon);
#elif defined(__aarch64__) && defined(__linux__)
    const std::set<std::string> flags = cpuinfo_words("Features");
    if (flags.empty()) return;
    CHECK(f.neon == (flags.count("asimd") == 1));
    CHECK(f.dotprod == (flags.count("asimddp") == 1));
    CHECK_FALSE(f.avx2);
#endif
    MESSAGE("cpu features: avx2 " << f.avx2 << " fma " << f.fma << " f16c " << f.f16c << " neon " << f.neon
                                  << " dotprod " << f.dotprod
                                  << "; kernels() = " << std::string(kernels().isa_name));
}

TEST_CASE("kernels() is the table EMBER_EXPECT_ISA names, when a runner sets it") {
    // scripts/test-arm.sh runs this binary on emulated CPUs whose features it knows (qemu-user
    // shows the host's /proc/cpuinfo, so the cross-check above is skipped there): e.g. on
    // -cpu cortex-a72 (no dotprod) it expects "neon", on -cpu max "neon-dotprod".
    const char* expect = std::getenv("EMBER_EXPECT_ISA");
    if (expect == nullptr || *expect == '\0') return;
    CHECK(std::string(kernels().isa_name) == std::string(expect));
    // The SDOT table is offered exactly when the CPU reports dotprod.
    bool dotprod_usable = false;
    for (const KernelTable* t : usable_kernel_tables())
        dotprod_usable |= std::strcmp(t->isa_name, "neon-dotprod") == 0;
    CHECK(dotprod_usable == (cpu_features().neon && cpu_features().dotprod));
}
