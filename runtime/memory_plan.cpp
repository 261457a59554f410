// Memory planner arithmetic (weights, KV, scratch, overhead), its sources (.ember header,
// HF config.json) and the refusal message.
#include "runtime/memory_plan.h"

#include <algorithm>

#include "kernels/quant.h"
#include "runtime/bench.h"
#include "runtime/convert/converter.h"
#include "runtime/convert/hf_config.h"
#include "runtime/convert/json_file.h"
#include "runtime/kv_cache.h"
#include "runtime/memory_stats.h"
#include "runtime/model_file.h"

namespace ember {
namespace {

namespace fs = std::filesystem;

// kernels/scratch.cpp grows a buffer to 5/4 of the request.
constexpr uint64_t kScratchSlackNum = 5, kScratchSlackDen = 4;
// Per-thread weight tile bound of the oneDNN paths (kernels/gemm_onednn.cpp kTileBytes).
constexpr uint64_t kKernelTileBytes = 512 * 1024;

uint64_t file_size_or_zero(const fs::path& p) {
    std::error_code ec;
    const auto n = fs::file_size(p, ec);
    return ec ? 0 : uint64_t(n);
}

std::string type_text(const WeightBytes& w) {
    std::string s;
    for (const auto& [d, bytes] : w.by_dtype)
        if (d != DType::F32 || w.by_dtype.size() == 1) {
            if (!s.empty()) s += '+';
            s += dtype_name(d);
        }
    return s;
}

}  // namespace

uint64_t WeightBytes::total() const {
    uint64_t t = 0;
    for (const auto& [d, bytes] : by_dtype) t += bytes;
    return t;
}

PlanSource plan_source_from_ember(const fs::path& file) {
    const nlohmann::json header = read_model_header(file);
    PlanSource src;
    src.name = file.string();
    src.is_ember_file = true;
    try {
        src.config = config_from_json(header.at("config"));
        src.config.validate();
    } catch (const std::exception& e) {
        throw ModelFileError(file.string() + ": " + e.what());
    }
    if (header.contains("weights_type") && header["weights_type"].is_string())
        if (auto d = dtype_from_name(header["weights_type"].get<std::string>())) src.weight_type = *d;
    for (const auto& jt : header["tensors"]) {
        std::string name;
        try {
            name = jt.at("name").get<std::string>();
            const std::string dt = jt.at("dtype").get<std::string>();
            const auto d = dtype_from_name(dt);
            if (!d) throw ModelFileError(file.string() + ": tensor '" + name + "' has unknown dtype '" + dt + "'");
            const uint64_t bytes = tensor_bytes(*d, jt.at("shape").get<std::vector<int64_t>>());
            if (*d == DType::U8)  // embedded tokenizer files
                src.tokenizer_file = std::max(src.tokenizer_file, bytes);
            else
                src.ember_weights.by_dtype[*d] += bytes;
        } catch (const nlohmann::json::exception& e) {
            throw ModelFileError(file.string() + ": tensor entry '" + name + "' in the header is malformed: " + e.what());
        }
    }
    src.ember_weights.tokenizer_file = src.tokenizer_file;
    return src;
}

namespace {

// config.json of an HF checkpoint; the tokenizer files are looked for next to it.
PlanSource plan_source_from_hf_config(const fs::path& config_path, const std::string& name) {
    const fs::path dir = config_path.parent_path();
    PlanSource src;
    src.name = name;
    try {
        src.config = model_config_from_hf(read_json_file(config_path));
    } catch (const ModelFileError&) {
        throw;
    } catch (const std::runtime_error& e) {
        throw ModelFileError(config_path.string() + ": " + e.what());
    }
    src.tokenizer_file =
        std::max(file_size_or_zero(dir / "tokenizer.json"), file_size_or_zero(dir / "tokenizer.model"));
    return src;
}

}  // namespace

PlanSource plan_source_from_hf_dir(const fs::path& dir) {
    const fs::path config_path = dir / "config.json";
    std::error_code ec;
    if (!fs::exists(config_path, ec))
        throw ModelFileError("no config.json in " + dir.string() + " (expected a Hugging Face checkpoint directory)");
    return plan_source_from_hf_config(config_path, dir.string());
}

PlanSource plan_source(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return plan_source_from_hf_dir(path);
    if (!fs::exists(path, ec)) throw ModelFileError(path.string() + ": no such file or directory");
    if (path.extension() == ".json") return plan_source_from_hf_config(path, path.string());
    return plan_source_from_ember(path);
}

WeightBytes weight_bytes_for_type(const ModelConfig& config, DType type, std::optional<DType> embed) {
    ConvertOptions opts;
    opts.type = type;
    opts.embed_type = embed;
    WeightBytes w;
    for (const auto& t : expected_tensors(config)) {
        const DType d = stored_dtype(t, opts);
        w.by_dtype[d] += tensor_bytes(d, t.shape);
    }
    return w;
}

WeightBytes source_weight_bytes(const PlanSource& src, DType type) {
    WeightBytes w = src.is_ember_file ? src.ember_weights : weight_bytes_for_type(src.config, type);
    w.tokenizer_file = src.tokenizer_file;
    return w;
}

namespace {

// The pool's shape at this kv type (runtime/kv_cache.h; its default block size), so plan
// and pool use the same arithmetic. Throws for a type the pool does not store.
KvCacheShape pool_shape(const ModelConfig& c, DType kv_type) {
    if (!is_kv_type(kv_type))
        throw std::invalid_argument("KV cache type must be f16, q8 or f32, not " + std::string(dtype_name(kv_type)));
    KvCacheShape s{int(c.n_layers), int(c.n_kv_heads), int(c.head_dim)};
    s.kv_type = kv_type;
    return s;
}

}  // namespace

uint64_t kv_bytes_per_token(const ModelConfig& c, DType kv_type) {
    return uint64_t(ember::kv_bytes_per_token(pool_shape(c, kv_type)));
}

uint64_t graph_scratch_bytes(const ModelConfig& c, int64_t max_batch, int64_t max_context, int n_threads) {
    // LlamaGraph (runtime/llama_graph.h), floats:
    //   x, xn, proj [B, H]; q, attn [B, nh*hd]; k_new, v_new [B, nkv*hd];
    //   ffn [B, max(2F, nh*hd + 2 nkv*hd)] (gate|up, or the fused q|k|v output);
    //   cos, sin [B, hd/2]; scores [n_threads, max_context].
    const uint64_t B = uint64_t(max_batch), H = uint64_t(c.hidden_size), F = uint64_t(c.intermediate_size),
                   q = uint64_t(c.n_heads * c.head_dim), kv = uint64_t(c.n_kv_heads * c.head_dim),
                   hd = uint64_t(c.head_dim);
    const uint64_t ffn = std::max(2 * F, q + 2 * kv);
    const uint64_t floats = B * (3 * H + 2 * q + 2 * kv + ffn + hd) + uint64_t(n_threads) * uint64_t(max_context);
    return floats * 4;
}

namespace {

// What run_parallel_tests (runtime/bench.cpp) holds besides the main pool and graph, for
// its largest test: P sequences of kParallelPrompt + n positions.
void plan_bench_parallel(const ModelConfig& c, const PlanOptions& o, MemoryPlan& p) {
    if (o.parallel <= 0) return;
    const int64_t P = o.parallel, per_seq = kParallelPrompt + std::max<int64_t>(o.parallel_gen, 0);
    const KvCacheShape shape = pool_shape(c, o.kv_type);
    p.parallel_kv = uint64_t(kv_pool_blocks(shape, per_seq, P)) * uint64_t(kv_block_bytes(shape));
    // Its LlamaGraph(model, per_seq, max(kParallelMinBatch, P)) and the forward_batch
    // scratch sized on the first call: row_pos_ i64 + row_piece_ i32 + pieces_ (a pointer
    // and three i64) per row, piece_views_ [B, n_kv_heads], and batch_logits_ [P, vocab]
    // f32 when more than one item wants logits; plus the bench's own [P, vocab] logits.
    const int64_t B = std::max(kParallelMinBatch, P);
    const uint64_t V = uint64_t(c.vocab_size);
    const uint64_t batch_rows = uint64_t(B) * (8 + 4 + 32 + uint64_t(c.n_kv_heads) * sizeof(PagedKvHead));
    const uint64_t logits = uint64_t(P) * V * 4 * (P > 1 ? 2 : 1);
    // The pool's per-block index (runtime/kv_cache.h: free list, reference count, registered
    // flag, two hashes, block_tokens token ids, hash bucket head (< 2 per block) and next, LRU
    // links), and the bench's random prompt and decode ids [P, per_seq] i32. Negligible
    // beside the KV data of a real model, but not for the 16-position blocks of a tiny one.
    const uint64_t index = uint64_t(kv_pool_blocks(shape, per_seq, P)) *
                           (4 + 4 + 1 + 8 + 8 + 4 * uint64_t(shape.block_tokens) + 8 + 4 + 8);
    const uint64_t ids = uint64_t(P) * uint64_t(per_seq) * 4;
    p.parallel_scratch = graph_scratch_bytes(c, B, per_seq, o.n_threads) + batch_rows + logits + index + ids;
    p.parallel = p.parallel_kv + p.parallel_scratch;
}

}  // namespace

uint64_t kv_pool_bytes(const ModelConfig& c, DType kv_type, int64_t ctx, uint64_t kv_mem) {
    // The pool's own arithmetic (runtime/kv_cache.h): whole blocks, and with kv_mem as many as
    // fit in those bytes (its error when they hold fewer than ctx positions).
    const KvCacheShape shape = pool_shape(c, kv_type);
    return uint64_t(kv_pool_blocks(shape, ctx, 1, kv_mem)) * uint64_t(kv_block_bytes(shape));
}

MemoryPlan memory_plan(const ModelConfig& c, const WeightBytes& w, const PlanOptions& o, std::string what) {
    MemoryPlan p;
    p.options = o;
    p.config = c;
    p.weight_bytes = w;
    p.what = what.empty() ? type_text(w) : std::move(what);
    p.weights = w.total();

    p.kv_per_token = kv_bytes_per_token(c, o.kv_type);
    p.kv_cache = kv_pool_bytes(c, o.kv_type, o.ctx, o.kv_mem);

    p.graph_scratch = graph_scratch_bytes(c, o.max_batch, o.ctx, o.n_threads);
    // logits [vocab] f32 (runtime/generate.cpp) + Sampler ids_ i32, probs_ f32, seen_ u8 [vocab].
    p.logits = uint64_t(c.vocab_size) * (4 + 4 + 4 + 1);
    // kernels/scratch.h, grown with 1/4 slack: the calling thread's activations of the widest
    // matmul input for B tokens (f32 copy + int8 and its +128 unsigned copy with per-block
    // scales, 4 + 2.25 B/element),
    // and per thread one weight tile (<= kKernelTileBytes) plus a few rows of K floats.
    // (bench --parallel runs at most kParallelMinBatch = 256 rows per step: no wider.)
    const uint64_t B = uint64_t(o.max_batch), H = uint64_t(c.hidden_size), F = uint64_t(c.intermediate_size),
                   q = uint64_t(c.n_heads * c.head_dim);
    const uint64_t K = std::max({H, F, q});
    const uint64_t acts = B * K * 4 + 2 * B * K + B * ((K + kQBlock - 1) / kQBlock) * 8;
    const uint64_t tiles = uint64_t(o.n_threads) * (kKernelTileBytes + 8 * K);
    p.kernel_scratch = (acts + tiles) * kScratchSlackNum / kScratchSlackDen;
    p.scratch = p.graph_scratch + p.logits + p.kernel_scratch;
    plan_bench_parallel(c, o, p);

    p.tokenizer = w.tokenizer_file > 0 ? w.tokenizer_file * kTokenizerMemoryFactor + kTokenizerBaseBytes : 0;
    p.overhead = kRuntimeOverheadBytes + p.tokenizer;
    p.total = p.weights + p.kv_cache + p.scratch + p.parallel + p.overhead;
    return p;
}

MemoryPlan memory_plan(const ModelConfig& c, DType body, DType embed, int64_t ctx, int64_t max_batch, int n_threads) {
    PlanOptions o;
    o.ctx = ctx;
    o.kv_type = DType::F32;
    o.max_batch = max_batch;
    o.n_threads = n_threads;
    return memory_plan(c, weight_bytes_for_type(c, body, embed), o);
}

int64_t largest_fitting_context(const ModelConfig& c, const WeightBytes& w, PlanOptions o, uint64_t available) {
    // total(ctx) grows with ctx: binary search for the last ctx that fits.
    auto fits = [&](int64_t ctx) {
        o.ctx = ctx;
        return memory_plan(c, w, o).total <= available;
    };
    int64_t hi = c.max_position;
    if (o.kv_mem > 0) {  // the pool holds a fixed number of positions; ctx cannot exceed them
        const KvCacheShape shape = pool_shape(c, o.kv_type);
        hi = std::min<int64_t>(hi, int64_t(o.kv_mem / uint64_t(kv_block_bytes(shape))) * shape.block_tokens);
        if (hi < 1) return 0;
    }
    if (!fits(1)) return 0;
    int64_t lo = 1;  // fits(lo) holds
    if (fits(hi)) return hi;
    while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        (fits(mid) ? lo : hi) = mid;
    }
    return lo;
}

namespace {

std::string need_text(const MemoryPlan& p) {
    const std::string parallel =
        p.parallel ? " + --parallel " + std::to_string(p.options.parallel) + " KV cache " +
                         format_bytes(p.parallel_kv) + " and scratch " + format_bytes(p.parallel_scratch)
                   : std::string();
    return format_bytes(p.total) + " (weights " + format_bytes(p.weights) + " + KV cache " +
           format_bytes(p.kv_cache) + " + scratch " + format_bytes(p.scratch) + parallel + " + runtime " +
           format_bytes(p.overhead - p.tokenizer) +
           (p.tokenizer ? " + tokenizer " + format_bytes(p.tokenizer) : std::string()) + ")";
}

// What would fit instead: a shorter context, a smaller KV type, a smaller weight type.
std::string suggestions(const MemoryPlan& p, uint64_t available) {
    std::string s;
    const int64_t ctx = largest_fitting_context(p.config, p.weight_bytes, p.options, available);
    if (ctx > 0)
        s += "; the largest context that fits is --ctx " + std::to_string(ctx);
    else if (p.options.parallel > 0)
        s += "; no --ctx fits with --parallel " + std::to_string(p.options.parallel);
    else
        s += "; not even a 1-token context fits with these weights";
    if (p.options.parallel > 1) {  // the largest --parallel P that fits (the plan grows with P)
        int64_t lo = 0, hi = p.options.parallel;  // fits(lo) holds (0: no parallel test)
        auto fits = [&](int64_t n) {
            PlanOptions o = p.options;
            o.parallel = n;
            return memory_plan(p.config, p.weight_bytes, o).total <= available;
        };
        while (hi - lo > 1) {
            const int64_t mid = lo + (hi - lo) / 2;
            (fits(mid) ? lo : hi) = mid;
        }
        if (lo > 0) s += "; the largest --parallel that fits is " + std::to_string(lo);
    }
    if (p.options.kv_mem > 0) {  // the KV pool is what --kv-mem says: name the largest that fits
        const uint64_t rest = p.total - p.kv_cache;
        const KvCacheShape shape = pool_shape(p.config, p.options.kv_type);
        const uint64_t block = uint64_t(kv_block_bytes(shape));
        const uint64_t needed = uint64_t((p.options.ctx + shape.block_tokens - 1) / shape.block_tokens) * block;
        if (available > rest && (available - rest) / block * block >= needed)
            s += "; --kv-mem " + std::to_string((available - rest) / block * block) + " would fit";
    }
    for (DType kv : {DType::F16, DType::Q8}) {
        if (dtype_row_bytes(kv, 32) >= dtype_row_bytes(p.options.kv_type, 32)) continue;
        PlanOptions o = p.options;
        o.kv_type = kv;
        const MemoryPlan alt = memory_plan(p.config, p.weight_bytes, o);
        if (alt.total <= available) {
            s += "; --kv-type " + std::string(dtype_name(kv)) + " would need " + format_bytes(alt.total);
            break;
        }
    }
    for (DType t : {DType::Q8, DType::Q4}) {
        WeightBytes w = weight_bytes_for_type(p.config, t);
        if (w.total() >= p.weights) continue;
        w.tokenizer_file = p.weight_bytes.tokenizer_file;
        const MemoryPlan alt = memory_plan(p.config, w, p.options);
        if (alt.total <= available) {
            s += "; converted with --type " + std::string(dtype_name(t)) + " it would need " + format_bytes(alt.total);
            break;
        }
    }
    return s;
}

}  // namespace

void check_fits(const MemoryPlan& plan, const MemoryBudget& budget) {
    if (budget.bytes == 0 || plan.total <= budget.bytes) return;
    const std::string kv_mem =
        plan.options.kv_mem ? " (--kv-mem " + std::to_string(plan.options.kv_mem) + ")" : std::string();
    throw InsufficientMemory(plan.what + " with --ctx " + std::to_string(plan.options.ctx) + " and " +
                             std::string(dtype_name(plan.options.kv_type)) + " KV cache" + kv_mem + " needs " +
                             need_text(plan) +
                             " but only " + format_bytes(budget.bytes) + " is available (" + budget.source + ")" +
                             suggestions(plan, budget.bytes) + " (--no-mem-check skips this check)");
}

MemoryPlan check_model_fits(const fs::path& model, PlanOptions o, MemoryBudget budget) {
    const PlanSource src = plan_source(model);
    if (o.ctx <= 0) o.ctx = std::min<int64_t>(4096, src.config.max_position);
    const MemoryPlan plan =
        memory_plan(src.config, source_weight_bytes(src, src.weight_type), o, src.name);
    if (budget.bytes == 0) budget = detect_memory_budget();
    check_fits(plan, budget);
    return plan;
}

void require_memory(const MemoryPlan& plan, uint64_t available, const std::string& what,
                    const std::string& available_source) {
    if (plan.total <= available) return;
    throw InsufficientMemory(what + " needs " + need_text(plan) + " but only " + format_bytes(available) +
                             " is available (" + available_source + ")" + suggestions(plan, available));
}

}  // namespace ember
