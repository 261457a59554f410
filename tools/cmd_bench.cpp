// `ember bench MODEL | --synthetic NAME | --list`: the llama-bench method (runtime/bench.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "runtime/bench.h"
#include "runtime/convert/hf_config.h"
#include "runtime/decode_profile.h"
#include "runtime/kv_cache.h"
#include "runtime/memory_stats.h"
#include "runtime/synthetic_model.h"
#include "runtime/threads.h"
#include "tools/commands.h"
#include "tools/mem_check_flags.h"

namespace ember::cli {
namespace {

// --synthetic runs fewer, shorter tests by default than a model file, so that the first
// command of the README finishes in seconds even with the scalar kernels (a full
// -p 512 -n 128 -r 5 on a 0.5B shape takes minutes there). Explicit flags override.
constexpr int64_t kSyntheticPrompt = 32, kSyntheticGen = 8, kSyntheticTtft = 16;
constexpr int kSyntheticReps = 2;

struct BenchFlags {
    std::string model, synthetic, type = "q4", embed_type, mem_limit;
    std::string kv_type = "f16", kv_mem;
    int64_t prefix_history = 0, prefix_new = 32;
    std::vector<int64_t> n_prompt = {512}, n_gen = {128}, parallel;
    int repetitions = 5;
    int threads = 0;
    std::string cpus;  // --cpus: CPU list to pin threads to
    int64_t ttft = 50;
    int64_t ctx = 0;
    uint64_t seed = 1234;
    bool json = false, list = false, no_warmup = false, quiet = false;
    bool profile = false;
    int64_t profile_ctx = 64, profile_steps = 32;
    MemCheckFlags mem_check;  // --mem (alias --mem-limit), --no-mem-check
};

// The config of a built-in shape or of a HF config.json; `name` gets its display name.
ModelConfig synthetic_config(const std::string& what, std::string& name) {
    if (const SyntheticSpec* s = find_synthetic_model(what)) {
        name = s->name;
        return s->config;
    }
    if (what.ends_with(".json")) {
        std::ifstream in(what);
        if (!in) throw std::runtime_error("--synthetic: cannot read " + what);
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(in);
        } catch (const nlohmann::json::exception& e) {
            throw std::runtime_error("--synthetic: " + what + " is not valid JSON: " + e.what());
        }
        try {
            name = what;
            return model_config_from_hf(j);
        } catch (const std::runtime_error& e) {
            throw std::runtime_error("--synthetic: " + what + ": " + e.what());
        }
    }
    std::string names;
    for (const auto& s : synthetic_models()) names += (names.empty() ? "" : ", ") + s.alias;
    throw std::runtime_error("--synthetic: unknown model '" + what + "' (built in: " + names +
                             "; or a Hugging Face config.json path; see --list)");
}

int64_t default_ctx(const ModelConfig& c, int64_t asked) {
    return asked > 0 ? asked : std::min<int64_t>(4096, c.max_position);
}

// What the memory check plans for besides the model: the KV pool (--kv-type, --kv-mem) and,
// with --parallel, the extra pool and graph of the largest P and -n (runtime/bench.cpp).
PlanOptions bench_plan_options(const BenchFlags& f, int64_t ctx) {
    PlanOptions o;
    o.ctx = ctx;
    o.kv_type = parse_kv_type(f.kv_type);
    o.kv_mem = f.kv_mem.empty() ? 0 : parse_byte_size(f.kv_mem);
    o.n_threads = f.threads > 0 ? f.threads : physical_core_count();
    for (int64_t p : f.parallel) o.parallel = std::max(o.parallel, p);
    for (int64_t n : f.n_gen) o.parallel_gen = std::max(o.parallel_gen, n);
    if (o.parallel_gen == 0) o.parallel = 0;  // -n 0: no tg<n> x<P> test runs
    return o;
}

// Flag checks that need the config, done before a synthetic model is generated.
void check_flags(const BenchFlags& f, const ModelConfig& c) {
    const int64_t ctx = default_ctx(c, f.ctx);
    if (ctx > c.max_position)
        throw std::invalid_argument("--ctx " + std::to_string(ctx) + " exceeds the model's maximum of " +
                                    std::to_string(c.max_position) + " positions");
    bool any = false;
    for (int64_t p : f.n_prompt) any |= p > 0;
    for (int64_t n : f.n_gen) any |= n > 0;
    if (!any && !f.profile) throw std::invalid_argument("nothing to run: every -p and -n is 0");
    auto fits = [&](int64_t n, const char* flag) {
        if (n > ctx)
            throw std::invalid_argument(std::string(flag) + " " + std::to_string(n) + " exceeds --ctx " +
                                        std::to_string(ctx) + " (each test starts from an empty context)");
    };
    for (int64_t p : f.n_prompt) fits(p, "-p");
    for (int64_t n : f.n_gen) fits(n, "-n");
    if (!f.parallel.empty())
        for (int64_t n : f.n_gen) fits(kParallelPrompt + n, "--parallel: prompt + -n");
    fits(f.ttft, "--ttft");
}

bool any_test(const BenchFlags& f) {
    for (int64_t p : f.n_prompt)
        if (p > 0) return true;
    for (int64_t n : f.n_gen)
        if (n > 0) return true;
    return false;
}

int list_models(const BenchFlags& f) {
    const uint64_t avail = mem_available_bytes();
    std::printf("Built-in shapes for `ember bench --synthetic NAME` (random weights, real shapes).\n");
    std::printf("Memory = weights + KV cache (%s, --ctx %s) + scratch + runtime (parts: ember plan); q4 keeps "
                "embeddings in q8.\n\n",
                f.kv_type.c_str(), f.ctx > 0 ? std::to_string(f.ctx).c_str() : "min(4096, model max)");
    std::printf(
        "| alias | model | arch | params | q4 | q8 | f16 | f32 |\n| --- | --- | --- | ---: | ---: | ---: | "
        "---: | ---: |\n");
    for (const auto& s : synthetic_models()) {
        const ModelConfig& c = s.config;
        const int64_t ctx = default_ctx(c, f.ctx);
        std::printf("| %s | %s | %s | %.1f M |", s.alias.c_str(), s.name.c_str(), c.arch.c_str(),
                    double(model_param_count(c)) / 1e6);
        for (DType d : {DType::Q4, DType::Q8, DType::F16, DType::F32}) {
            const MemoryPlan p = memory_plan(c, weight_bytes_for_type(c, d, default_embed_type(d)),
                                             bench_plan_options(f, ctx));  // the bench's --kv-type, --kv-mem
            std::printf(" %s%s |", format_bytes(p.total).c_str(),
                        avail && p.total > avail ? " (too big)" : "");
        }
        std::printf("\n");
    }
    if (avail) std::printf("\nAvailable now (MemAvailable): %s\n", format_bytes(avail).c_str());
    return 0;
}

int bench(BenchFlags f, CLI::App& sub) {
    if (f.list) return list_models(f);
    configure_threads(f.threads, f.cpus);
    const bool synthetic = sub.count("--synthetic") > 0;
    if (synthetic && f.synthetic.empty())
        throw std::invalid_argument(
            "--synthetic needs a NAME (e.g. --synthetic qwen2.5-0.5b; --list shows them all)");
    if (synthetic == !f.model.empty())
        throw std::invalid_argument(
            "give a model file or --synthetic NAME (not both); --list shows the built-in names");

    std::unique_ptr<Model> model;
    std::string name;
    const auto t0 = std::chrono::steady_clock::now();
    if (synthetic) {
        if (!sub.count("-p")) f.n_prompt = {kSyntheticPrompt};
        if (!sub.count("-n")) f.n_gen = {kSyntheticGen};
        if (!sub.count("-r")) f.repetitions = kSyntheticReps;
        if (!sub.count("--ttft")) f.ttft = kSyntheticTtft;
        const ModelConfig cfg = synthetic_config(f.synthetic, name);
        check_flags(f, cfg);
        const DType body = *dtype_from_name(f.type);
        const DType embed = f.embed_type.empty() ? default_embed_type(body) : *dtype_from_name(f.embed_type);
        const int64_t ctx = default_ctx(cfg, f.ctx);
        const MemoryPlan plan = memory_plan(cfg, weight_bytes_for_type(cfg, body, embed), bench_plan_options(f, ctx));
        const std::string what =
            name + " as " + f.type +
            (embed != body ? " (embeddings " + std::string(dtype_name(embed)) + ")" : "") + " with --ctx " +
            std::to_string(ctx);
        const MemoryBudget budget = !f.mem_limit.empty() ? memory_budget_from_flag("--mem-limit", f.mem_limit)
                                    : !f.mem_check.mem.empty() ? memory_budget_from_flag("--mem", f.mem_check.mem)
                                                               : detect_memory_budget();
        if (budget.bytes && !f.mem_check.skip) {
            require_memory(plan, budget.bytes, what, budget.source);
        } else if (!f.mem_check.skip) {
            std::fprintf(stderr, "ember: note: no MemAvailable or cgroup limit to read; not checking that %s fits\n",
                         format_bytes(plan.total).c_str());
        }
        if (!f.quiet)
            std::fprintf(stderr, "ember bench: generating random %s weights for %s (%s)...\n", f.type.c_str(),
                         name.c_str(), format_bytes(plan.weights).c_str());
        model = Model::synthetic(cfg, body, embed, f.seed);
        name = "synthetic:" + name;
    } else {
        if (sub.count("--type") || sub.count("--embed-type"))
            throw std::invalid_argument(
                "--type / --embed-type apply to --synthetic only (a model file has its types)");
        if (!f.mem_check.skip) {  // refuse before loading what would not fit
            const PlanOptions o = bench_plan_options(f, f.ctx);
            f.mem_check.check(f.model, f.ctx, f.threads, o.kv_type, o.kv_mem, o.parallel, o.parallel_gen);
        }
        model = Model::load(f.model);
        name = std::filesystem::path(f.model).filename().string();
        check_flags(f, model->config());
    }
    const double load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    BenchOptions o;
    o.n_prompt = f.n_prompt;
    o.n_gen = f.n_gen;
    o.parallel = f.parallel;
    o.repetitions = f.repetitions;
    o.warmup = !f.no_warmup;
    o.ttft_prompt = f.ttft;
    o.ctx = default_ctx(model->config(), f.ctx);
    o.seed = f.seed;
    o.kv_type = parse_kv_type(f.kv_type);
    o.kv_mem = f.kv_mem.empty() ? 0 : parse_byte_size(f.kv_mem);
    o.prefix_history = f.prefix_history;
    o.prefix_new = f.prefix_new;
    if (!f.quiet)
        o.progress = [](const std::string& s) { std::fprintf(stderr, "ember bench: %s\n", s.c_str()); };

    if (!any_test(f)) {  // --profile alone (-p 0 -n 0)
        const DecodeProfile p = profile_decode(*model, f.profile_ctx, f.profile_steps, o.ctx, parse_kv_type(f.kv_type), f.seed);
        std::printf("%s", format_decode_profile(p).c_str());
        return 0;
    }
    BenchReport r = run_bench(*model, o);
    r.model = summarize_model(*model, name, synthetic);
    r.load_ms = load_ms;
    if (f.json) {
        std::printf("%s\n", bench_json(r).dump(2).c_str());
    } else {
        std::printf("%s", format_bench_markdown(r).c_str());
        if (synthetic && !(sub.count("-p") && sub.count("-n") && sub.count("-r") && sub.count("--ttft")))
            std::printf(
                "note: --synthetic defaults to -p %lld -n %lld -r %d --ttft %lld (quick); "
                "pass -p 512 -n 128 -r 5 --ttft 50 for the full llama-bench method\n",
                (long long)kSyntheticPrompt, (long long)kSyntheticGen, kSyntheticReps,
                (long long)kSyntheticTtft);
    }
    if (f.profile) {
        const DecodeProfile p = profile_decode(*model, f.profile_ctx, f.profile_steps, o.ctx, parse_kv_type(f.kv_type), f.seed);
        // With --json the profile goes to stderr, so stdout stays one JSON document.
        std::fprintf(f.json ? stderr : stdout, "%s", format_decode_profile(p).c_str());
    }
    if (!r.logits_finite) std::fprintf(stderr, "ember: warning: the logits contained NaN or inf\n");
    return 0;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
    auto f = std::make_shared<BenchFlags>();
    const std::vector<std::string> types = {"f32", "f16", "bf16", "q8", "q4"};
    CLI::App* sub = app.add_subcommand("bench", "Measure prompt processing (pp) and generation (tg) speed");
    sub->add_option("model", f->model, "Model file (.ember)")->check(CLI::ExistingFile);
    sub->add_option("--synthetic", f->synthetic,
                    "Benchmark a built-in shape with random weights (no file): a name from --list, or a HF "
                    "config.json")
        ->expected(0, 1);  // `--synthetic --list` works too
    sub->add_option("--type", f->type, "--synthetic: weight matrix type")
        ->check(CLI::IsMember(types))
        ->capture_default_str();
    sub->add_option("--embed-type", f->embed_type,
                    "--synthetic: embedding / lm_head type (default: q8 for q4, else --type)")
        ->check(CLI::IsMember(types));
    sub->add_flag("--list", f->list, "List the built-in --synthetic shapes with their memory needs");
    sub->add_option("-p,--n-prompt", f->n_prompt,
                    "Prompt lengths to test, comma-separated; 0 = no pp test (default 512)")
        ->delimiter(',')
        ->check(CLI::NonNegativeNumber);
    sub->add_option("-n,--n-gen", f->n_gen,
                    "Generation lengths to test, comma-separated; 0 = no tg test (default 128)")
        ->delimiter(',')
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--parallel", f->parallel,
                    "Also decode -n tokens on this many sequences at once (batched), comma-separated: "
                    "aggregate t/s as test tg<n> x<P>")
        ->delimiter(',')
        ->check(CLI::Range(1, 256));
    sub->add_option("-r,--repetitions", f->repetitions, "Timed runs per test (default 5)")
        ->check(CLI::PositiveNumber);
    sub->add_flag("--no-warmup", f->no_warmup, "Skip the untimed warmup run of each test");
    sub->add_option("--cpus", f->cpus, "Pin threads to these CPUs, e.g. 0,1 or 0-3 (default thread count: one per CPU)");
    sub->add_option("-t,--threads", f->threads, "Threads (default: physical cores)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--ttft", f->ttft,
                    "Time to first token for a prompt of this many tokens; 0 = skip (default 50)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("-c,--ctx", f->ctx,
                    "Context the KV cache is sized for (default: min(4096, model maximum))")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--kv-type", f->kv_type, "KV cache element type: f16, q8 or f32")
        ->check(CLI::IsMember({"f32", "f16", "q8"}))
        ->capture_default_str();
    sub->add_option("--kv-mem", f->kv_mem, "KV cache size in bytes, e.g. 512M (default: sized for --ctx)");
    sub->add_option("--prefix-history", f->prefix_history,
                    "Prefix-cache test: TTFT of a cold N-token history vs a second turn reusing it (0 = skip)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--prefix-new", f->prefix_new, "Prefix-cache test: new tokens in the second turn (default 32)")
        ->check(CLI::PositiveNumber);
    sub->add_option("--seed", f->seed, "Seed of the random tokens (and of --synthetic weights)");
    sub->add_option("--mem-limit", f->mem_limit,
                    "--synthetic: the older name of --mem (memory budget, e.g. 2G, 100M)");
    sub->add_flag("--profile", f->profile,
                  "After the tests, time every kernel of single-token decode steps and print where a step's "
                  "time goes (-p 0 -n 0 --profile: the profile alone)");
    sub->add_option("--profile-ctx", f->profile_ctx, "--profile: tokens already in the context (default 64)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--profile-steps", f->profile_steps, "--profile: timed decode steps (default 32)")
        ->check(CLI::PositiveNumber);
    sub->add_flag("--json", f->json, "Print a JSON array, one object per test");
    f->mem_check.add_to(sub);
    sub->add_flag("-q,--quiet", f->quiet, "No progress lines on stderr");
    return {sub, [f, sub] { return bench(*f, *sub); }};
}

}  // namespace ember::cli
