// How much memory this process may still use: the smaller of the kernel's MemAvailable and
// the headroom left under the memory limit of every cgroup the process sits in (v1 or v2).
// A container with 4 GiB on a 64 GiB host sees MemAvailable ~60 GiB but is OOM-killed past
// 4 GiB; a laptop without limits has only MemAvailable. The parsers take their paths, so
// tests run them on fixture files (tests/plan/fixtures/).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace ember {

// The memory budget a model must fit in, and where the number came from (for messages).
struct MemoryBudget {
    uint64_t bytes = 0;
    std::string source;  // "MemAvailable in /proc/meminfo", "cgroup /x limit 4.00 GiB ...", "--mem 4G"
};

// MemAvailable of a /proc/meminfo-format file, in bytes; nullopt when absent or unreadable.
std::optional<uint64_t> parse_meminfo_available(const std::filesystem::path& meminfo);

// Headroom under the tightest cgroup memory limit of the process described by
// `proc_self_cgroup` (a /proc/self/cgroup-format file), with the hierarchies mounted under
// `cgroup_root` (normally /sys/fs/cgroup): v2 reads <root>/<path>/memory.max and
// memory.current, v1 <root>/memory/<path>/memory.limit_in_bytes and memory.usage_in_bytes,
// at the process's cgroup and every ancestor (a parent's limit binds its children too).
// Headroom = limit - (usage - inactive_file from memory.stat), since inactive page cache
// is reclaimed before the OOM killer runs. When the cgroup path does not exist below the
// root (a container that sees the host's path but has its own cgroup mounted at the
// root), the root's files are used. nullopt when no limit is set anywhere.
struct CgroupHeadroom {
    uint64_t bytes = 0;
    uint64_t limit = 0;        // the binding limit
    std::string where;         // the directory whose limit binds
};
std::optional<CgroupHeadroom> cgroup_memory_headroom(const std::filesystem::path& proc_self_cgroup,
                                                     const std::filesystem::path& cgroup_root);

// min(MemAvailable, cgroup headroom) for this process, read from /proc and /sys/fs/cgroup.
// bytes == 0 when neither can be read (then nothing is known).
MemoryBudget detect_memory_budget();

// Same, from other paths (tests): meminfo file, /proc/self/cgroup file, cgroup root.
MemoryBudget detect_memory_budget(const std::filesystem::path& meminfo, const std::filesystem::path& proc_self_cgroup,
                                  const std::filesystem::path& cgroup_root);

// `--mem TEXT` ("4G", "512M", ...): the simulated limit that replaces detection.
MemoryBudget memory_budget_from_flag(const std::string& flag, const std::string& text);

}  // namespace ember
