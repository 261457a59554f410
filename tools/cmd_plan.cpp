// `ember plan MODEL.ember|HF_DIR [--mem 4G] [--ctx N] [--kv-type T] [--kv-mem SIZE] [--type T] [--json]`:
// what the model needs per weight type against the memory available (runtime/memory_plan.h).
// Exit status: 0 when it fits (an HF dir: at least one listed type fits), 2 when nothing
// fits, 1 on errors.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "runtime/convert/converter.h"
#include "runtime/memory_plan.h"
#include "runtime/memory_stats.h"
#include "runtime/threads.h"
#include "tools/commands.h"

namespace ember::cli {
namespace {

constexpr int kExitDoesNotFit = 2;

struct PlanFlags {
    std::string model, mem, kv_type = "f16", type, kv_mem;
    int64_t ctx = 0;
    int threads = 0;
    bool json = false;
};

struct Row {
    std::string type;  // "q4", or the file's own types
    MemoryPlan plan;
    bool fits;
    int64_t largest_ctx;
};

double mib(uint64_t bytes) { return double(bytes) / (1024.0 * 1024.0); }

std::string row_type(const PlanSource& src, DType t) {
    if (src.is_ember_file) return std::string(dtype_name(src.weight_type)) + " (file)";
    ConvertOptions o;
    o.type = t;
    const DType embed = stored_dtype({"model.embed_tokens.weight", {1, 1}, true}, o);
    return std::string(dtype_name(t)) + (embed != t ? " (embed " + std::string(dtype_name(embed)) + ")" : "");
}

void print_table(const PlanSource& src, const std::vector<Row>& rows, const MemoryBudget& budget,
                 const PlanOptions& o) {
    const ModelConfig& c = src.config;
    std::printf("%s: %s, %lld layers, vocab %lld, max context %lld\n", src.name.c_str(), c.arch.c_str(),
                (long long)c.n_layers, (long long)c.vocab_size, (long long)c.max_position);
    std::printf("--ctx %lld, KV cache %s (%s per token%s), %d thread%s, prefill chunk %lld tokens\n",
                (long long)o.ctx, std::string(dtype_name(o.kv_type)).c_str(),
                format_bytes(kv_bytes_per_token(c, o.kv_type)).c_str(),
                o.kv_mem ? (", pool of --kv-mem " + format_bytes(o.kv_mem)).c_str() : "", o.n_threads,
                o.n_threads == 1 ? "" : "s", (long long)o.max_batch);
    if (budget.bytes)
        std::printf("available: %s (%s)\n\n", format_bytes(budget.bytes).c_str(), budget.source.c_str());
    else
        std::printf("available: unknown (no MemAvailable, no cgroup limit; pass --mem)\n\n");
    std::printf("| type | weights MiB | KV MiB | scratch MiB | runtime MiB | total MiB | fits | largest ctx |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---|---:|\n");
    for (const auto& r : rows) {
        const MemoryPlan& p = r.plan;
        std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %s |\n", r.type.c_str(), mib(p.weights),
                    mib(p.kv_cache), mib(p.scratch), mib(p.overhead), mib(p.total),
                    budget.bytes == 0 ? "?" : r.fits ? "yes" : "no",
                    budget.bytes == 0 ? "?" : r.largest_ctx > 0 ? std::to_string(r.largest_ctx).c_str() : "none");
    }
}

nlohmann::json plan_json(const PlanSource& src, const std::vector<Row>& rows, const MemoryBudget& budget,
                         const PlanOptions& o) {
    nlohmann::json out = {{"model", src.name},
                          {"arch", src.config.arch},
                          {"max_position", src.config.max_position},
                          {"ctx", o.ctx},
                          {"kv_type", std::string(dtype_name(o.kv_type))},
                          {"kv_bytes_per_token", kv_bytes_per_token(src.config, o.kv_type)},
                          {"kv_mem_bytes", o.kv_mem},
                          {"n_threads", o.n_threads},
                          {"max_batch", o.max_batch},
                          {"available_bytes", budget.bytes},
                          {"available_source", budget.source}};
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : rows) {
        const MemoryPlan& p = r.plan;
        nlohmann::json by_dtype = nlohmann::json::object();
        for (const auto& [d, bytes] : p.weight_bytes.by_dtype) by_dtype[std::string(dtype_name(d))] = bytes;
        list.push_back({{"type", r.type},
                        {"weights_bytes", p.weights},
                        {"weights_by_dtype", by_dtype},
                        {"kv_cache_bytes", p.kv_cache},
                        {"scratch_bytes", p.scratch},
                        {"graph_scratch_bytes", p.graph_scratch},
                        {"logits_bytes", p.logits},
                        {"kernel_scratch_bytes", p.kernel_scratch},
                        {"runtime_bytes", p.overhead},
                        {"tokenizer_bytes", p.tokenizer},
                        {"total_bytes", p.total},
                        {"fits", budget.bytes == 0 ? nlohmann::json(nullptr) : nlohmann::json(r.fits)},
                        {"largest_ctx", budget.bytes == 0 ? nlohmann::json(nullptr) : nlohmann::json(r.largest_ctx)}});
    }
    out["types"] = list;
    return out;
}

int plan(const PlanFlags& f) {
    const PlanSource src = plan_source(f.model);
    if (src.is_ember_file && !f.type.empty())
        throw std::invalid_argument("--type applies to a Hugging Face directory (a .ember file has its types)");

    PlanOptions o;
    o.ctx = f.ctx > 0 ? f.ctx : std::min<int64_t>(4096, src.config.max_position);
    if (o.ctx > src.config.max_position)
        throw std::invalid_argument("--ctx " + std::to_string(o.ctx) + " exceeds the model's maximum of " +
                                    std::to_string(src.config.max_position) + " positions");
    o.kv_type = *dtype_from_name(f.kv_type);
    o.kv_mem = f.kv_mem.empty() ? 0 : parse_byte_size(f.kv_mem);
    o.n_threads = f.threads > 0 ? f.threads : physical_core_count();
    const MemoryBudget budget = f.mem.empty() ? detect_memory_budget() : memory_budget_from_flag("--mem", f.mem);

    std::vector<DType> types;
    if (src.is_ember_file)
        types = {src.weight_type};
    else if (!f.type.empty())
        types = {*dtype_from_name(f.type)};
    else
        types = {DType::F32, DType::F16, DType::BF16, DType::Q8, DType::Q4};

    std::vector<Row> rows;
    bool any_fits = false;
    for (DType t : types) {
        const WeightBytes w = source_weight_bytes(src, t);
        Row r{row_type(src, t), memory_plan(src.config, w, o), false, 0};
        r.fits = budget.bytes == 0 || r.plan.total <= budget.bytes;
        r.largest_ctx = budget.bytes ? largest_fitting_context(src.config, w, o, budget.bytes) : 0;
        any_fits |= r.fits;
        rows.push_back(std::move(r));
    }
    if (f.json)
        std::printf("%s\n", plan_json(src, rows, budget, o).dump(2).c_str());
    else
        print_table(src, rows, budget, o);
    if (!any_fits) {
        std::fflush(stdout);
        std::fprintf(stderr, "ember plan: %s does not fit in %s at --ctx %lld with any %s\n", src.name.c_str(),
                     format_bytes(budget.bytes).c_str(), (long long)o.ctx,
                     src.is_ember_file ? "setting of this file (try a smaller --ctx or --kv-type)" : "listed type");
        return kExitDoesNotFit;
    }
    return 0;
}

}  // namespace

Command add_plan_command(CLI::App& app) {
    auto f = std::make_shared<PlanFlags>();
    CLI::App* sub = app.add_subcommand("plan", "Memory a model needs per weight type, and whether it fits");
    sub->add_option("model", f->model, "Model file (.ember) or Hugging Face checkpoint directory")
        ->required()
        ->check(CLI::ExistingPath);
    sub->add_option("--mem", f->mem, "Memory budget instead of the detected one (e.g. 4G, 512M)");
    sub->add_option("-c,--ctx", f->ctx, "Context size in tokens (default: min(4096, model maximum))")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--kv-type", f->kv_type, "KV cache storage type")
        ->check(CLI::IsMember({"f16", "q8", "f32"}))
        ->capture_default_str();
    sub->add_option("--kv-mem", f->kv_mem,
                    "KV cache size in bytes as run/bench --kv-mem, e.g. 512M (default: sized for --ctx)");
    sub->add_option("--type", f->type, "HF directory: plan only this weight type")
        ->check(CLI::IsMember({"f32", "f16", "bf16", "q8", "q4"}));
    sub->add_option("-t,--threads", f->threads, "Threads (default: physical cores)")->check(CLI::NonNegativeNumber);
    sub->add_flag("--json", f->json, "Print one JSON object");
    return {sub, [f] { return plan(*f); }};
}

}  // namespace ember::cli
