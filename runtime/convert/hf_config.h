// Hugging Face config.json (+ generation_config.json) -> ModelConfig, following the
// defaults of transformers' LlamaConfig / Qwen2Config where a field is absent.
#pragma once
#include <nlohmann/json.hpp>

#include "runtime/model_config.h"

namespace ember {

// `config` is config.json; `generation` is generation_config.json or null (its
// eos_token_id entries are merged after the config's). The result is validated.
// Throws std::runtime_error naming the field, e.g. "unsupported architecture X; supported: ...".
ModelConfig model_config_from_hf(const nlohmann::json& config, const nlohmann::json& generation = nullptr);

}  // namespace ember
