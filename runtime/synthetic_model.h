// Models with random weights and the exact shapes of real ones, built in memory for
// `ember bench --synthetic` (no download, no file). Model::synthetic (declared in
// runtime/model.h) is implemented in synthetic_model.cpp next to this table.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/dtype.h"
#include "runtime/memory_plan.h"
#include "runtime/model_config.h"

namespace ember {

// One built-in shape: the published config of a real model (copied from its
// config.json into synthetic_model.cpp; nothing is read at run time).
struct SyntheticSpec {
    std::string name;   // Hugging Face repo name, "Qwen2.5-0.5B-Instruct"
    std::string alias;  // short name, "qwen2.5-0.5b"
    ModelConfig config;
};

// The table of built-in shapes.
const std::vector<SyntheticSpec>& synthetic_models();

// By name or alias, case-insensitive (also without the "-Instruct"/"-Chat" suffixes the
// alias drops); nullptr when unknown.
const SyntheticSpec* find_synthetic_model(std::string_view name);

// What converter --type does for the embedding when no --embed-type is given: q8 under
// q4 (quantization error there reaches every token), else the body type.
DType default_embed_type(DType body);

// Parameters of a model with this config (tied embeddings counted once).
int64_t model_param_count(const ModelConfig& c);

// Bytes of every weight tensor (matrices in body / embed dtype, vectors f32), as stored.
uint64_t model_weight_bytes(const ModelConfig& c, DType body, DType embed);

// memory_plan / require_memory for synthetic models: runtime/memory_plan.h.

}  // namespace ember
