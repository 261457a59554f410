// Progress line for ember-convert.
#include "runtime/convert/progress.h"

#include <unistd.h>

#include <cstdio>

namespace ember {

namespace {
constexpr uint64_t kAlwaysShowBytes = uint64_t(100) << 20;
}

ConvertProgress::ConvertProgress(bool wanted, size_t total_tensors, uint64_t total_bytes)
    : tty_(::isatty(STDERR_FILENO) != 0), total_tensors_(total_tensors), total_bytes_(total_bytes) {
    enabled_ = wanted && (tty_ || total_bytes > kAlwaysShowBytes);
}

void ConvertProgress::tensor_done(const std::string& name, uint64_t source_bytes) {
    if (!enabled_) return;
    ++done_tensors_;
    done_bytes_ += source_bytes;
    draw(name);
}

void ConvertProgress::draw(const std::string& name) {
    const double percent = total_bytes_ ? 100.0 * double(done_bytes_) / double(total_bytes_) : 100.0;
    const double mb = 1024.0 * 1024.0;
    if (tty_) {
        // \033[K clears what a longer previous tensor name left behind.
        std::fprintf(stderr, "\r[%zu/%zu] %.1f/%.1f MB %3.0f%%  %s\033[K", done_tensors_, total_tensors_,
                     double(done_bytes_) / mb, double(total_bytes_) / mb, percent, name.c_str());
    } else {
        const int decile = int(percent / 10.0);
        if (decile == last_decile_) return;
        last_decile_ = decile;
        std::fprintf(stderr, "[%zu/%zu] %.1f/%.1f MB %3.0f%%\n", done_tensors_, total_tensors_,
                     double(done_bytes_) / mb, double(total_bytes_) / mb, percent);
    }
    std::fflush(stderr);
}

void ConvertProgress::finish() {
    if (enabled_ && tty_ && done_tensors_ > 0) std::fputc('\n', stderr);
}

}  // namespace ember
