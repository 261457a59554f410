// The tokenizer part of an HF checkpoint directory (tokenizer.model / tokenizer.json,
// tokenizer_config.json, special_tokens_map.json, chat template) -> the "tokenizer"
// object of the .ember header plus the files to embed verbatim. Schema: docs/convert.md.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/model_config.h"

namespace ember {

// A tokenizer file stored as a U8 tensor of shape [n_bytes], named after the file.
struct TokenizerBlob {
    std::string tensor_name;  // "tokenizer.model" or "tokenizer.json"
    std::filesystem::path path;
};

struct HfTokenizer {
    nlohmann::json header;              // the header's "tokenizer" object
    std::vector<TokenizerBlob> blobs;   // in file order: tokenizer.model, then tokenizer.json
    std::vector<std::string> warnings;  // for stderr, e.g. "no tokenizer files"
};

// Token ids come from `cfg` (config.json merged with generation_config.json).
// Throws ModelFileError naming the file when a present file is malformed.
HfTokenizer read_hf_tokenizer(const std::filesystem::path& hf_dir, const ModelConfig& cfg);

}  // namespace ember
