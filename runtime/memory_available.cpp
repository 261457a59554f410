// MemAvailable and cgroup (v1 / v2) memory headroom, from files whose paths are parameters.
#include "runtime/memory_available.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "runtime/memory_stats.h"

namespace ember {
namespace {

namespace fs = std::filesystem;

// v1 reports "no limit" as a huge page-aligned number (9223372036854771712 on x86-64).
constexpr uint64_t kUnlimitedV1 = uint64_t(1) << 62;

// The first token of a one-number file ("4294967296\n", "max\n"); nullopt if unreadable.
std::optional<std::string> first_token(const fs::path& file) {
    std::ifstream in(file);
    std::string tok;
    if (!(in >> tok)) return std::nullopt;
    return tok;
}

std::optional<uint64_t> read_u64(const fs::path& file) {
    auto tok = first_token(file);
    if (!tok) return std::nullopt;
    try {
        size_t used = 0;
        const unsigned long long v = std::stoull(*tok, &used);
        if (used != tok->size()) return std::nullopt;
        return uint64_t(v);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// A "key value" line of memory.stat; 0 when the file or key is missing.
uint64_t stat_value(const fs::path& file, const std::string& key) {
    std::ifstream in(file);
    std::string k;
    uint64_t v = 0;
    while (in >> k >> v)
        if (k == key) return v;
    return 0;
}

// One cgroup hierarchy to inspect: where it is mounted and the names of its files.
struct Hierarchy {
    fs::path base;           // the mount, e.g. /sys/fs/cgroup or /sys/fs/cgroup/memory
    std::string cgroup;      // the process's path in it, "/user.slice/app"
    const char* limit_file;  // memory.max | memory.limit_in_bytes
    const char* usage_file;  // memory.current | memory.usage_in_bytes
    const char* inactive_key;  // inactive_file | total_inactive_file (v1, hierarchical)
    bool v1;
};

// Headroom at one directory, or nullopt when it sets no limit.
std::optional<CgroupHeadroom> headroom_at(const Hierarchy& h, const fs::path& dir) {
    std::optional<uint64_t> limit;
    if (h.v1) {
        limit = read_u64(dir / h.limit_file);
        if (limit && *limit >= kUnlimitedV1) limit.reset();
    } else {
        limit = read_u64(dir / h.limit_file);  // "max" does not parse: no limit
    }
    if (!limit) return std::nullopt;
    const uint64_t usage = read_u64(dir / h.usage_file).value_or(0);
    const uint64_t inactive = std::min(usage, stat_value(dir / "memory.stat", h.inactive_key));
    const uint64_t working_set = usage - inactive;
    CgroupHeadroom r;
    r.limit = *limit;
    r.bytes = working_set >= *limit ? 0 : *limit - working_set;
    r.where = dir.string();
    return r;
}

std::optional<CgroupHeadroom> tightest_in(const Hierarchy& h) {
    std::error_code ec;
    fs::path dir = h.base / fs::path(h.cgroup).relative_path();
    // A container may show the host's cgroup path while mounting its own cgroup at the root.
    if (!fs::is_directory(dir, ec)) dir = h.base;
    std::optional<CgroupHeadroom> best;
    const fs::path base = h.base.lexically_normal();
    for (fs::path d = dir.lexically_normal();; d = d.parent_path()) {
        if (auto r = headroom_at(h, d); r && (!best || r->bytes < best->bytes)) best = r;
        if (d == base || d == d.parent_path() || d.string().size() <= base.string().size()) break;
    }
    return best;
}

}  // namespace

std::optional<uint64_t> parse_meminfo_available(const fs::path& meminfo) {
    std::ifstream in(meminfo);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string key, unit;
        uint64_t value = 0;
        if (!(ls >> key >> value)) continue;
        if (key != "MemAvailable:") continue;
        ls >> unit;
        return unit == "kB" ? value * 1024 : value;  // the kernel always writes kB
    }
    return std::nullopt;
}

std::optional<CgroupHeadroom> cgroup_memory_headroom(const fs::path& proc_self_cgroup, const fs::path& cgroup_root) {
    std::ifstream in(proc_self_cgroup);
    std::string line;
    std::vector<Hierarchy> hierarchies;
    while (std::getline(in, line)) {
        // "hierarchy-id:controller,list:/path"; v2 is "0::/path".
        const size_t a = line.find(':');
        const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
        if (b == std::string::npos) continue;
        const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
        if (controllers.empty()) {
            hierarchies.push_back({cgroup_root, path, "memory.max", "memory.current", "inactive_file", false});
        } else {
            std::stringstream list(controllers);
            std::string c;
            while (std::getline(list, c, ','))
                if (c == "memory")
                    hierarchies.push_back({cgroup_root / "memory", path, "memory.limit_in_bytes",
                                           "memory.usage_in_bytes", "total_inactive_file", true});
        }
    }
    std::optional<CgroupHeadroom> best;
    for (const auto& h : hierarchies)
        if (auto r = tightest_in(h); r && (!best || r->bytes < best->bytes)) best = r;
    return best;
}

MemoryBudget detect_memory_budget(const fs::path& meminfo, const fs::path& proc_self_cgroup,
                                  const fs::path& cgroup_root) {
    MemoryBudget b;
    if (auto avail = parse_meminfo_available(meminfo)) {
        b.bytes = *avail;
        b.source = "MemAvailable in " + meminfo.string();
    }
    if (auto cg = cgroup_memory_headroom(proc_self_cgroup, cgroup_root); cg && (b.bytes == 0 || cg->bytes < b.bytes)) {
        b.bytes = cg->bytes;
        b.source = "cgroup limit " + format_bytes(cg->limit) + " in " + cg->where + " minus its current use";
    }
    return b;
}

MemoryBudget detect_memory_budget() {
    return detect_memory_budget("/proc/meminfo", "/proc/self/cgroup", "/sys/fs/cgroup");
}

MemoryBudget memory_budget_from_flag(const std::string& flag, const std::string& text) {
    try {
        return {parse_byte_size(text), flag + " " + text};
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(flag + ": " + e.what());
    }
}

}  // namespace ember
