// A loaded model: the mapped .ember file, its config, tokenizer, and views of every weight.
#pragma once
#include <functional>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/model_config.h"
#include "runtime/model_file.h"
#include "tokenizer/tokenizer.h"

namespace ember {

// Weights of one decoder layer. Matrices are [out_features, in_features] (HF Linear layout).
struct LayerWeights {
    const float* attn_norm = nullptr;  // [hidden]
    MatrixView q_proj;                 // [n_heads * head_dim, hidden]
    MatrixView k_proj;                 // [n_kv_heads * head_dim, hidden]
    MatrixView v_proj;                 // [n_kv_heads * head_dim, hidden]
    const float* q_bias = nullptr;     // [n_heads * head_dim]     (qkv_bias only)
    const float* k_bias = nullptr;     // [n_kv_heads * head_dim]  (qkv_bias only)
    const float* v_bias = nullptr;     // [n_kv_heads * head_dim]  (qkv_bias only)
    MatrixView o_proj;                 // [hidden, n_heads * head_dim]
    const float* ffn_norm = nullptr;   // [hidden]
    MatrixView gate_proj;              // [intermediate, hidden]
    MatrixView up_proj;                // [intermediate, hidden]
    MatrixView down_proj;              // [hidden, intermediate]
    // The same bytes seen as one matrix each, when fuse_rows allows it (fuse_projections):
    // one matmul instead of three / two, which saves the parallel-region fork/join that
    // dominates the small k_proj / v_proj calls of a decode step.
    std::optional<MatrixView> qkv_proj;      // [(n_heads + 2 n_kv_heads) * head_dim, hidden]  q | k | v rows
    std::optional<MatrixView> gate_up_proj;  // [2 intermediate, hidden]  gate | up rows
};

struct ModelWeights {
    MatrixView embed;                  // [vocab, hidden]
    std::vector<LayerWeights> layers;  // [n_layers]
    const float* final_norm = nullptr; // [hidden]
    MatrixView lm_head;                // [vocab, hidden] (the embedding itself when tied)
};

// What the header says about the tokenizer and chat (see docs/format.md).
struct TokenizerInfo {
    std::string kind = "none";  // "sentencepiece", "bpe", "none"
    bool add_bos = false;
    int64_t bos_token_id = -1;
    std::vector<int64_t> eos_token_ids;
    std::string chat_template;  // empty when the model has none
};

class Model {
public:
    // Maps and validates the file: header config, every expected tensor present with the
    // config's shape and a usable dtype. Throws ModelFileError naming file, tensor, offset.
    static std::unique_ptr<Model> load(const std::filesystem::path& path);
    // A model with random weights and the shapes of `config`, built in memory (no file, no
    // tokenizer): matrices stored as `body`, embed_tokens / lm_head as `embed`, norms 1,
    // reproducible from `seed`. For `ember bench --synthetic`; runtime/synthetic_model.cpp.
    static std::unique_ptr<Model> synthetic(const ModelConfig& config, DType body, DType embed, uint64_t seed);

    const ModelConfig& config() const { return config_; }
    const ModelWeights& weights() const { return weights_; }
    bool has_file() const { return file_ != nullptr; }  // false for Model::synthetic
    const ModelFile& file() const { return *file_; }     // only when has_file()
    const nlohmann::json& header() const {                // empty object for synthetic models
        static const nlohmann::json empty = nlohmann::json::object();
        return file_ ? file_->header() : empty;
    }
    const TokenizerInfo& tokenizer_info() const { return tokenizer_info_; }
    // nullptr when the file embeds no usable tokenizer (then only --tokens works).
    const Tokenizer* tokenizer() const { return tokenizer_.get(); }
    bool is_eos(int32_t id) const;

private:
    std::unique_ptr<ModelFile> file_;
    ModelConfig config_;
    ModelWeights weights_;
    TokenizerInfo tokenizer_info_;
    std::unique_ptr<Tokenizer> tokenizer_;
    std::shared_ptr<uint8_t[]> synthetic_weights_;  // Model::synthetic: every weight, 64-byte aligned
    std::shared_ptr<void> repacked_weights_;         // Model::load: matrices repacked for the kernels
};

// The HF tensor names of a Llama / Qwen2 checkpoint bound to ModelWeights: `matrix` and
// `vector` look a name up (and throw when it is missing or malformed). Shared by
// Model::load (file tensors) and Model::synthetic (generated ones).
ModelWeights bind_weights(const ModelConfig& config, const std::function<MatrixView(const std::string&)>& matrix,
                          const std::function<const float*(const std::string&)>& vector);

// `parts` stacked row-wise as one matrix (part 0's rows first), or nullopt when their
// bytes do not form one: all q4 or all q8 (float weights may go to oneDNN for batches,
// whose arithmetic per output can depend on the matrix shape), the same cols, row_bytes
// and layout, each part starting right after the previous one's rows * row_bytes, and
// every part but the last a multiple of 8 rows. The kernels handle rows in groups of at
// most 8 (interleaved-8 groups, 8-row GEMM tiles, 4-row matvec steps) and leftover rows
// apart, so each output row of the fused matmul then gets the arithmetic it gets alone.
std::optional<MatrixView> fuse_rows(std::span<const MatrixView> parts);
// Sets each layer's qkv_proj / gate_up_proj where fuse_rows allows. Called by Model::load
// and Model::synthetic after the repack, whose arena / buffer keeps q, k, v and gate, up
// adjacent (packs_after_previous_tensor).
void fuse_projections(ModelWeights& w);
// Whether a weight file tensor is laid out right after the previous one (no alignment
// gap) where Ember chooses the layout: k_proj, v_proj and up_proj, the later parts of
// the fused matrices above.
bool packs_after_previous_tensor(const std::string& tensor_name);

// Row `row` of a weight matrix as floats (embedding lookup; tests): out[cols].
void matrix_row_to_f32(const MatrixView& m, int64_t row, float* out);

// Lets `table` rearrange every layer matrix and the lm_head into the layout its matmul
// reads fastest (KernelTable::repack; the AVX2 table interleaves q4/q8 rows in groups of
// 8). An untied embedding keeps the file layout; a tied one follows the lm_head (its
// rows are looked up through matrix_row_to_f32, which reads every layout).
// EMBER_REPACK=0 in the environment turns it off.
//
// In place: the bytes behind the views must be writable (Model::synthetic's own buffer).
void repack_weights_in_place(ModelWeights& w, const KernelTable& table);
// Into a new anonymous arena, for a read-only file
// mapping: the views move to the arena, and the file pages the originals occupied are
// dropped from this process (MADV_DONTNEED) slice by slice (about slice_bytes each), so
// resident memory does not double. Returns the arena's owner (nullptr when the table
// repacked nothing). The source must be a file mapping: on anonymous memory the dropped
// pages would read back as zeros.
std::shared_ptr<void> repack_weights_to_arena(ModelWeights& w, const KernelTable& table,
                                              int64_t slice_bytes = int64_t(4) << 20);

}  // namespace ember
