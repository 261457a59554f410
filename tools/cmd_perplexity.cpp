// `ember perplexity MODEL -f TEXT [--kl-base BASE]`: llama-perplexity's method
// (runtime/perplexity.h), optionally with KL divergence against a base model.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "runtime/kv_cache.h"
#include "runtime/perplexity.h"
#include "runtime/threads.h"
#include "tools/commands.h"

namespace ember::cli {
namespace {

struct PerplexityFlags {
    std::string model, text_file, tokens_file, kl_base;
    std::string kv_type = "f32";  // f32 by default: PPL and KL then measure the weights alone
    int64_t ctx = 0;
    int64_t chunks = 0;
    int threads = 0;
    std::string cpus;  // --cpus: CPU list to pin threads to
    bool score_all = false, json = false;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<int32_t> input_tokens(const Model& model, const PerplexityFlags& f) {
    if (!f.tokens_file.empty()) {
        try {
            return parse_token_list(read_file(f.tokens_file));
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(f.tokens_file + ": " + e.what());
        }
    }
    const Tokenizer* tok = model.tokenizer();
    if (!tok)
        throw std::runtime_error(model.file().path().string() +
                                 " has no tokenizer Ember can use yet (kind '" + model.tokenizer_info().kind +
                                 "'); pass token ids with --tokens-file");
    return tok->encode(read_file(f.text_file));
}

int perplexity(const PerplexityFlags& f) {
    if (f.text_file.empty() == f.tokens_file.empty())
        throw CLI::RequiredError("exactly one of -f/--file or --tokens-file");
    configure_threads(f.threads, f.cpus);
    auto model = Model::load(f.model);
    std::unique_ptr<Model> base;
    if (!f.kl_base.empty()) base = Model::load(f.kl_base);
    const std::vector<int32_t> tokens = input_tokens(*model, f);

    PerplexityOptions o;
    o.ctx = f.ctx > 0 ? f.ctx : std::min<int64_t>(512, model->config().max_position);
    o.max_chunks = f.chunks;
    o.score_all = f.score_all;
    o.kv_type = parse_kv_type(f.kv_type);
    if (!f.json)
        std::printf("perplexity: %zu tokens, chunks of %lld, scoring %s of each chunk, %s KV cache%s\n",
                    tokens.size(), (long long)o.ctx, o.score_all ? "every prediction" : "the second half",
                    f.kv_type.c_str(),
                    base ? (", KL(base || model) against " + f.kl_base).c_str() : "");
    auto on_chunk = [&](const PerplexityProgress& p) {
        if (f.json) return;
        std::printf("[%lld/%lld] PPL %.4f", (long long)p.chunk, (long long)p.n_chunks, p.ppl);
        if (p.kl)
            std::printf("  base PPL %.4f  KL %.6f  top-1 %.2f%%", p.kl->base_ppl, p.kl->mean,
                        100.0 * p.kl->top1_agreement);
        std::printf("\n");
        std::fflush(stdout);
    };
    const PerplexityResult r = compute_perplexity(*model, base.get(), tokens, o, on_chunk);

    if (f.json) {
        nlohmann::json j = {
            {"model", f.model},       {"n_tokens", r.n_tokens},     {"n_ctx", r.n_ctx}, {"kv_type", f.kv_type},
            {"n_chunks", r.n_chunks}, {"n_scored", r.n_scored},     {"score_all", o.score_all},
            {"ppl", r.ppl},           {"ppl_stderr", r.ppl_stderr}, {"running_ppl", r.running_ppl},
            {"seconds", r.seconds}};
        if (r.kl)
            j["kl"] = {{"base", f.kl_base},
                       {"mean", r.kl->mean},
                       {"stderr", r.kl->stderr_mean},
                       {"max", r.kl->max},
                       {"top1_agreement", r.kl->top1_agreement},
                       {"base_ppl", r.kl->base_ppl},
                       {"base_ppl_stderr", r.kl->base_ppl_stderr}};
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("Final estimate: PPL = %.4f +/- %.4f (%lld predictions in %lld chunks, %.1f s)\n", r.ppl,
                r.ppl_stderr, (long long)r.n_scored, (long long)r.n_chunks, r.seconds);
    if (r.kl) {
        std::printf("base PPL = %.4f +/- %.4f\n", r.kl->base_ppl, r.kl->base_ppl_stderr);
        std::printf("KL(base || model): mean %.6f +/- %.6f, max %.6f\n", r.kl->mean, r.kl->stderr_mean,
                    r.kl->max);
        std::printf("top-1 agreement: %.2f%%\n", 100.0 * r.kl->top1_agreement);
    }
    return 0;
}

}  // namespace

Command add_perplexity_command(CLI::App& app) {
    auto f = std::make_shared<PerplexityFlags>();
    CLI::App* sub =
        app.add_subcommand("perplexity", "Perplexity of a text (and KL divergence against a base model)");
    sub->add_option("model", f->model, "Model file (.ember)")->required()->check(CLI::ExistingFile);
    auto* file = sub->add_option("-f,--file", f->text_file, "Text to score")->check(CLI::ExistingFile);
    auto* toks =
        sub->add_option("--tokens-file", f->tokens_file,
                        "Token ids to score (comma/whitespace-separated), for models without a tokenizer")
            ->check(CLI::ExistingFile);
    file->excludes(toks);
    sub->add_option("-c,--ctx", f->ctx, "Tokens per chunk (default: min(512, model maximum))")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--chunks", f->chunks, "Score at most this many chunks (default: all)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--kv-type", f->kv_type,
                    "KV cache element type of the model (the --kl-base model always uses f32)")
        ->check(CLI::IsMember({"f32", "f16", "q8"}))
        ->capture_default_str();
    sub->add_flag("--score-all", f->score_all, "Score every prediction of a chunk, not only its second half");
    sub->add_option("--kl-base", f->kl_base,
                    "Base model (e.g. the f32 conversion): report KL(base || model), top-1 agreement")
        ->check(CLI::ExistingFile);
    sub->add_option("--cpus", f->cpus, "Pin threads to these CPUs, e.g. 0,1 or 0-3 (default thread count: one per CPU)");
    sub->add_option("-t,--threads", f->threads, "Threads (default: physical cores)")
        ->check(CLI::NonNegativeNumber);
    sub->add_flag("--json", f->json, "Print the result as JSON (no per-chunk lines)");
    return {sub, [f] { return perplexity(*f); }};
}

}  // namespace ember::cli
