// The memory planner: what running a model needs, in bytes, computed before anything is
// loaded (from a .ember header or a Hugging Face config.json), and the check that refuses
// to load a model that does not fit instead of being OOM-killed halfway (docs/usage.md,
// "Memory planning").
//
//   total = weights (as stored, by dtype; mmapped, so they become resident as they are read)
//         + KV cache (ctx positions, rounded up to whole pool blocks, at the KV storage type;
//                     with --kv-mem, the whole blocks that fit in those bytes)
//         + scratch (LlamaGraph's buffers for max_batch tokens, attention scores, logits +
//                    sampler buffers, per-thread kernel scratch)
//         + bench --parallel (its second KV pool and graph for P sequences, when asked)
//         + overhead (the runtime and its libraries, measured: kRuntimeOverheadBytes, plus
//                     the parsed tokenizer, kTokenizerMemoryFactor x its file size + kTokenizerBaseBytes)
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "runtime/memory_available.h"
#include "runtime/model_config.h"

namespace ember {

// Resident memory of `ember` beyond everything the plan counts: the executable, libstdc++,
// oneDNN and libgomp code and data, OpenMP thread stacks, the parsed header. Measured
// (docs/benchmarks.md, "Memory planner"): `ember --version` peaks at 8.0 MiB, and `ember run`
// of the 0.2 MB stories260K file at 10.5 MiB, 7.8 MiB above its planned weights + KV +
// scratch; rounded up to 12 MiB for machines with more threads than the 2 measured here.
constexpr uint64_t kRuntimeOverheadBytes = uint64_t(12) << 20;

// The parsed tokenizer (compact vocabulary and merge tables, added tokens, SentencePiece
// model): measured about 25 MiB at its loading peak in `ember tokenize` for Qwen2.5's
// 6.7 MiB tokenizer.json (3.7x), and 6.9 MiB for the 0.5 MB llama2 SentencePiece model
// (docs/benchmarks.md). Planned as kTokenizerMemoryFactor x the file + kTokenizerBaseBytes.
constexpr uint64_t kTokenizerMemoryFactor = 4;
constexpr uint64_t kTokenizerBaseBytes = uint64_t(6) << 20;

// What a model's weights weigh in memory, by stored dtype.
struct WeightBytes {
    std::map<DType, uint64_t> by_dtype;  // weight tensors (matrices and vectors), as stored
    uint64_t tokenizer_file = 0;         // the larger serialized tokenizer (.ember blob / HF file)
    uint64_t total() const;              // sum of by_dtype (the tokenizer is overhead)
};

// A model to plan for, before loading it.
struct PlanSource {
    std::string name;            // path, for messages
    ModelConfig config;
    bool is_ember_file = false;  // true: the weight types are fixed; false: an HF dir, any type
    DType weight_type = DType::F16;  // .ember: its "weights_type" (matrices)
    WeightBytes ember_weights;       // .ember: its tensor directory; HF dir: unused
    uint64_t tokenizer_file = 0;     // the larger tokenizer blob / file, in bytes
};

// Reads the .ember header (config, tensor directory) without mapping the tensor data.
PlanSource plan_source_from_ember(const std::filesystem::path& file);
// Reads config.json of a Hugging Face checkpoint directory (and sizes its tokenizer files).
PlanSource plan_source_from_hf_dir(const std::filesystem::path& dir);
// By what `path` is: a directory (HF checkpoint), a .json file (an HF config.json; the
// tokenizer files are looked for next to it), else a .ember file.
PlanSource plan_source(const std::filesystem::path& path);

// Weights of `config` converted with `ember-convert --type type` (the converter's per-tensor
// rule, runtime/convert/converter.h stored_dtype: vectors f32, matrices `type`, embedding /
// lm_head `embed` or q8 under q4).
WeightBytes weight_bytes_for_type(const ModelConfig& config, DType type, std::optional<DType> embed = std::nullopt);
// The source's weights: its own for a .ember file, weight_bytes_for_type for an HF dir.
WeightBytes source_weight_bytes(const PlanSource& src, DType type);

// KV bytes one token position takes in the pool: n_layers x 2 (K, V) x n_kv_heads rows of
// head_dim elements, at 4 (f32), 2 (f16) or 34/32 (q8: BlockQ8, kernels/quant.h) bytes per
// element; computed by the pool's own function (runtime/kv_cache.h kv_bytes_per_token).
// Throws std::invalid_argument for a type that is not a KV type (is_kv_type).
uint64_t kv_bytes_per_token(const ModelConfig& c, DType kv_type);

struct PlanOptions {
    int64_t ctx = 4096;           // positions the KV cache is sized for (--ctx)
    DType kv_type = DType::F16;   // KV storage type (--kv-type)
    uint64_t kv_mem = 0;          // --kv-mem: KV pool bytes (kv_pool_blocks); 0 = sized for ctx
    int64_t max_batch = 256;      // LlamaGraph's tokens per forward chunk
    int n_threads = 1;            // OpenMP threads (attention scores and kernel tiles are per thread)
    // `ember bench --parallel`: the largest P of the list and the largest -n (0: no parallel
    // test). Bench then holds a second KV pool and LlamaGraph for P sequences of
    // kParallelPrompt + n positions next to its main ones (runtime/bench.cpp).
    int64_t parallel = 0;
    int64_t parallel_gen = 0;
};

struct MemoryPlan {
    PlanOptions options;
    ModelConfig config;
    WeightBytes weight_bytes;
    std::string what;  // "model.ember (q4)", for messages

    uint64_t weights = 0;         // weight_bytes.total()
    uint64_t kv_per_token = 0;    // kv_bytes_per_token
    uint64_t kv_cache = 0;        // whole pool blocks covering ctx
    uint64_t graph_scratch = 0;   // LlamaGraph activations for max_batch tokens + attention scores
    uint64_t logits = 0;          // logits [vocab] + the sampler's [vocab] buffers
    uint64_t kernel_scratch = 0;  // kernels/scratch.h buffers (activations, weight tiles)
    uint64_t scratch = 0;         // graph_scratch + logits + kernel_scratch
    uint64_t parallel_kv = 0;       // bench --parallel: its pool of P x (prompt + n) positions
    uint64_t parallel_scratch = 0;  // bench --parallel: its graph, forward_batch buffers, logits, pool index
    uint64_t parallel = 0;          // parallel_kv + parallel_scratch
    uint64_t tokenizer = 0;       // parsed tokenizer: kTokenizerMemoryFactor x its file + kTokenizerBaseBytes
    uint64_t overhead = 0;        // kRuntimeOverheadBytes + tokenizer
    uint64_t total = 0;           // weights + kv_cache + scratch + parallel + overhead
};

// LlamaGraph's scratch (runtime/llama_graph.h) for max_batch tokens and max_context
// positions, in bytes: the per-token activations and the per-thread attention scores.
uint64_t graph_scratch_bytes(const ModelConfig& c, int64_t max_batch, int64_t max_context, int n_threads);
// KV pool bytes as runtime/kv_cache.h kv_pool_blocks sizes it for one sequence of ctx
// positions (kv_mem 0) or for kv_mem bytes; throws std::invalid_argument as it does (a
// budget that holds fewer than ctx positions).
uint64_t kv_pool_bytes(const ModelConfig& c, DType kv_type, int64_t ctx, uint64_t kv_mem = 0);

MemoryPlan memory_plan(const ModelConfig& c, const WeightBytes& w, const PlanOptions& o, std::string what = "");
// Convenience for synthetic shapes (tests/bench): weights from the config
// in `body` / `embed` types, no tokenizer, KV in f32.
MemoryPlan memory_plan(const ModelConfig& c, DType body, DType embed, int64_t ctx, int64_t max_batch = 256,
                       int n_threads = 1);

// The largest ctx (<= the model's max_position_embeddings) whose plan fits in `available`
// bytes; 0 when not even one position fits.
int64_t largest_fitting_context(const ModelConfig& c, const WeightBytes& w, PlanOptions o, uint64_t available);

// Not enough memory for what was asked; the message says what is needed, what is
// available and what would fit.
struct InsufficientMemory : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Throws InsufficientMemory when plan.total > budget.bytes. The message gives the need
// (and its parts) against the budget and its source, the largest --ctx that would fit, and
// the smaller KV type / weight type that would fit at the requested ctx. A budget of 0
// bytes means "unknown" and passes.
void check_fits(const MemoryPlan& plan, const MemoryBudget& budget);

// The check `ember run` / `bench` (and chat / serve) do before loading `model` (.ember):
// plans it at `o` (o.ctx 0: min(4096, max_position)) and calls check_fits against `budget`
// (budget.bytes 0: the detected budget). Returns the plan.
MemoryPlan check_model_fits(const std::filesystem::path& model, PlanOptions o, MemoryBudget budget);

// Older interface (ember bench --synthetic): `what` names the model, `available_source`
// the budget. Same message as check_fits.
void require_memory(const MemoryPlan& plan, uint64_t available, const std::string& what,
                    const std::string& available_source);

}  // namespace ember
