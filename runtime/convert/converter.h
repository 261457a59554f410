// Hugging Face checkpoint directory -> .ember file: the library behind ember-convert.
// Inputs, dtype rules and the header schema are described in docs/convert.md.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "kernels/dtype.h"
#include "runtime/model_config.h"

namespace ember {

struct ConvertOptions {
    std::filesystem::path hf_dir, output;
    DType type = DType::F16;          // weight matrices: f32, f16, bf16, q8 or q4
    std::optional<DType> embed_type;  // embed_tokens / lm_head; unset: q8 if type is q4, else type
    bool progress = true;             // progress on stderr (if a TTY or the input is > 100 MB)
    bool quiet = false;               // nothing on stderr but errors (no progress, notes, warnings)
    // Checked between tensors; when set the conversion stops with ModelFileError("interrupted")
    // and cleans up like any failure (the CLI sets it from SIGINT / SIGTERM).
    const std::atomic<bool>* cancel = nullptr;
};

struct ConvertSummary {
    size_t tensors = 0;                        // including tokenizer blobs
    std::map<DType, uint64_t> bytes_by_dtype;  // tensor data bytes per stored dtype
    uint64_t output_bytes = 0;                 // size of the written file
    double seconds = 0;
};

// Converts opts.hf_dir into opts.output (replaced atomically if it exists). Every check
// (config, shapes, dtypes, tokenizer files) runs before the first byte is written; any
// failure throws ModelFileError and leaves neither the output nor a temp file behind.
ConvertSummary convert_hf_checkpoint(const ConvertOptions& opts);

// The dtype a tensor is stored in: vectors f32; matrices opts.type, except embed_tokens and
// lm_head (opts.embed_type, default q8 when opts.type is q4).
DType stored_dtype(const ExpectedTensor& t, const ConvertOptions& opts);

// "wrote OUT: 58 tensors (f32 12.5 KB, q4 80.1 KB, ...), 0.1 MB in 0.02 s"
std::string format_summary(const ConvertSummary& s, const std::filesystem::path& output);

}  // namespace ember
