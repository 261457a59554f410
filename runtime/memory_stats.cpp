#include "runtime/memory_stats.h"

#include <sys/resource.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace ember {

uint64_t peak_rss_bytes() {
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return uint64_t(ru.ru_maxrss) * 1024;  // Linux reports kilobytes
}

uint64_t mem_available_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t value = 0;
    std::string unit;
    while (in >> key >> value) {
        std::getline(in, unit);  // " kB"
        if (key == "MemAvailable:") return value * 1024;
    }
    return 0;
}

uint64_t parse_byte_size(const std::string& text) {
    auto fail = [&] {
        throw std::invalid_argument("'" + text +
                                    "' is not a byte size (expected e.g. 512M, 1.5G, 100MiB or 4096)");
    };
    size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        fail();
    }
    std::string unit = text.substr(used);
    for (auto& ch : unit) ch = char(std::toupper(static_cast<unsigned char>(ch)));
    double mult = 1;
    if (!unit.empty() && unit != "B") {
        const std::string p = unit.substr(0, 1);
        const std::string rest = unit.substr(1);
        if (rest != "" && rest != "B" && rest != "IB") fail();
        if (p == "K")
            mult = 1024.0;
        else if (p == "M")
            mult = 1024.0 * 1024;
        else if (p == "G")
            mult = 1024.0 * 1024 * 1024;
        else if (p == "T")
            mult = 1024.0 * 1024 * 1024 * 1024;
        else
            fail();
    }
    if (!(value >= 0) || !std::isfinite(value)) fail();
    return uint64_t(std::llround(value * mult));
}

std::string format_bytes(uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu B", (unsigned long long)bytes);
    else
        std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
    return buf;
}

}  // namespace ember
