// Process and machine memory figures for `ember bench` and the synthetic-model memory
// check: peak resident set size, memory the kernel says is available, byte-size parsing.
#pragma once
#include <cstdint>
#include <string>

namespace ember {

// Peak resident set size of this process so far (getrusage ru_maxrss), in bytes.
uint64_t peak_rss_bytes();

// MemAvailable from /proc/meminfo in bytes; 0 when it cannot be read.
uint64_t mem_available_bytes();

// "512M", "1.5G", "100MiB", "2048" (bytes) -> bytes; K/M/G/T are powers of 1024 with or
// without a trailing "iB"/"B". Throws std::invalid_argument naming the text otherwise.
uint64_t parse_byte_size(const std::string& text);

// 1536 -> "1.5 KiB", 3.2e9 -> "2.98 GiB": for messages and tables.
std::string format_bytes(uint64_t bytes);

}  // namespace ember
