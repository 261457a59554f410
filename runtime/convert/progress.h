// Conversion progress on stderr: tensors done, MB done, percent. On a terminal one line
// is redrawn in place; in a log (not a TTY) a line is printed at every 10%.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ember {

class ConvertProgress {
public:
    // Shown only if `wanted` and stderr is a TTY or the input exceeds 100 MB (small
    // conversions in scripts and tests stay quiet); otherwise every call is a no-op.
    ConvertProgress(bool wanted, size_t total_tensors, uint64_t total_bytes);
    // One more tensor of `source_bytes` input bytes is done.
    void tensor_done(const std::string& name, uint64_t source_bytes);
    // Ends the redrawn line so later output starts on a fresh one.
    void finish();

private:
    void draw(const std::string& name);
    bool enabled_, tty_;
    size_t total_tensors_, done_tensors_ = 0;
    uint64_t total_bytes_, done_bytes_ = 0;
    int last_decile_ = -1;
};

}  // namespace ember
