// Reading the JSON side files of a Hugging Face checkpoint (config.json, tokenizer_config.json,
// generation_config.json, model.safetensors.index.json) with errors that name the file.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

namespace ember {

// Parses `path`; throws ModelFileError "<path>: cannot read" / "<path>: invalid JSON: ...".
nlohmann::json read_json_file(const std::filesystem::path& path);

// Same, but a missing file is not an error (optional files such as generation_config.json).
std::optional<nlohmann::json> read_json_file_if_exists(const std::filesystem::path& path);

}  // namespace ember
