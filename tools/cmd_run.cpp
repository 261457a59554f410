// `ember run MODEL -p TEXT | --tokens IDS`: generate and stream text (or ids / logits).
// A model with a chat template gets the prompt as one user message (--raw: as is).
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/chat_format.h"
#include "runtime/generate.h"
#include "runtime/memory_stats.h"
#include "runtime/threads.h"
#include "tools/commands.h"
#include "tools/mem_check_flags.h"
#include "tools/sampling_flags.h"
#include "tools/config_file.h"

namespace ember::cli {
namespace {

struct RunFlags {
    std::string model, prompt, prompt_file, tokens, system, config;
    std::string kv_type = "f16", kv_mem;  // KV cache element type; byte budget ("" = sized from --ctx)
    int64_t n_predict = 256;
    int64_t ctx = 0;
    int threads = 0;
    std::string cpus;  // --cpus: CPU list to pin threads to
    bool print_logits = false, print_ids = false, ignore_eos = false, raw = false;
    bool system_on_command_line = false;  // a config file's `system` is just unused where it cannot apply
    SamplingFlags sampling;  // --temp, --top-k, ... (tools/sampling_flags.h)
    MemCheckFlags mem_check;  // --mem, --no-mem-check
};

std::vector<int32_t> parse_ids(const std::string& s) {
    std::vector<int32_t> ids;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        while (used < item.size() && std::isspace(static_cast<unsigned char>(item[used]))) ++used;
        if (used == 0 || used != item.size() || v < 0 || v > INT32_MAX)
            throw std::invalid_argument("--tokens: '" + item + "' is not a token id (expected e.g. --tokens 1,2,3)");
        ids.push_back(int32_t(v));
    }
    if (ids.empty()) throw std::invalid_argument("--tokens: no ids given");
    return ids;
}

// The chat template applies to text prompts of models that have one, unless --raw.
bool use_chat_template(const Model& model, const RunFlags& f) {
    const bool templated = f.tokens.empty() && !f.raw && ChatFormat::model_has_template(model);
    if (f.system_on_command_line && !f.system.empty() && !templated)
        throw std::invalid_argument(
            f.raw ? "--system needs the chat template, which --raw turns off"
                  : !f.tokens.empty() ? "--system cannot be combined with --tokens"
                                      : model.file().path().string() + " has no chat template, so --system has no place to go");
    return templated;
}

std::vector<int32_t> prompt_ids(const Model& model, const RunFlags& f, const ChatFormat* chat) {
    if (!f.tokens.empty()) return parse_ids(f.tokens);
    std::string text = f.prompt;
    if (!f.prompt_file.empty()) {
        std::ifstream in(f.prompt_file, std::ios::binary);
        if (!in) throw std::runtime_error("cannot read prompt file " + f.prompt_file);
        text.assign(std::istreambuf_iterator<char>(in), {});
    }
    const Tokenizer* tok = model.tokenizer();
    if (!tok)
        throw std::runtime_error(model.file().path().string() + " has no tokenizer Ember can use yet (kind '" +
                                 model.tokenizer_info().kind + "'); pass token ids with --tokens");
    if (chat) return chat->encode(single_turn_messages(f.system, text), /*add_generation_prompt=*/true);
    // (A config file's system prompt is not used without the template.)
    std::vector<int32_t> ids;
    if (model.tokenizer_info().add_bos && model.tokenizer_info().bos_token_id >= 0)
        ids.push_back(int32_t(model.tokenizer_info().bos_token_id));
    auto body = tok->encode(text);
    ids.insert(ids.end(), body.begin(), body.end());
    if (ids.empty()) throw std::invalid_argument("the prompt is empty and the model adds no BOS token");
    return ids;
}

int run(const RunFlags& f, CLI::App& app) {
    configure_threads(f.threads, f.cpus);
    f.mem_check.check(f.model, f.ctx, f.threads, parse_kv_type(f.kv_type),
                      f.kv_mem.empty() ? 0 : parse_byte_size(f.kv_mem));  // refuse before loading what would not fit
    auto model = Model::load(f.model);
    const ModelConfig& cfg = model->config();

    // Sampling: the model's generation defaults, then whatever the user set explicitly.
    const SamplingParams sp = f.sampling.resolve(*model, app);

    std::unique_ptr<ChatFormat> chat;
    if (use_chat_template(*model, f)) chat = std::make_unique<ChatFormat>(*model);
    const std::vector<int32_t> prompt = prompt_ids(*model, f, chat.get());
    const int64_t ctx = f.ctx > 0 ? f.ctx : std::min<int64_t>(4096, cfg.max_position);
    if (ctx > cfg.max_position)
        throw std::invalid_argument("--ctx " + std::to_string(ctx) + " exceeds the model's maximum of " +
                                    std::to_string(cfg.max_position) + " positions");
    const int64_t wanted = int64_t(prompt.size()) + (f.print_logits && f.n_predict == 0 ? 0 : f.n_predict);
    if (int64_t(prompt.size()) > ctx)
        throw ContextOverflow("the prompt has " + std::to_string(prompt.size()) + " tokens but the context is " +
                              std::to_string(ctx) + " (raise --ctx, up to " + std::to_string(cfg.max_position) + ")");
    if (wanted > ctx)
        std::fprintf(stderr, "ember: note: prompt (%zu) + -n %lld exceed --ctx %lld; generation stops at the context end\n",
                     prompt.size(), (long long)f.n_predict, (long long)ctx);

    KvCacheShape shape{int(cfg.n_layers), int(cfg.n_kv_heads), int(cfg.head_dim), 16, parse_kv_type(f.kv_type)};
    KvBlockPool pool(shape, kv_pool_blocks(shape, ctx, 1, f.kv_mem.empty() ? 0 : parse_byte_size(f.kv_mem)));
    SequenceKv seq(pool);
    LlamaGraph graph(*model, ctx);

    if (f.print_logits) {
        // Last-position logits of the prompt, one per line (%.9g round-trips a float).
        std::vector<float> logits(static_cast<size_t>(cfg.vocab_size));
        graph.forward(prompt, seq, logits.data());
        for (float v : logits) std::printf("%.9g\n", double(v));
        if (f.n_predict == 0) return 0;
        seq.clear();
    }

    GenerateOptions go;
    go.max_new_tokens = std::min(f.n_predict, ctx - int64_t(prompt.size()));
    go.stop_at_eos = !f.ignore_eos;
    go.sampling = sp;
    if (chat) go.stop_ids = chat->stop_ids();  // end-of-turn tokens such as <|im_end|>

    const Tokenizer* tok = model->tokenizer();
    std::unique_ptr<StreamingDecoder> decoder;
    if (tok && !f.print_ids) decoder = std::make_unique<StreamingDecoder>(*tok, prompt);
    std::vector<int32_t> generated;
    auto on_token = [&](int32_t id) {
        generated.push_back(id);
        if (decoder) {
            std::string piece = decoder->push(id);
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
        }
        return true;
    };
    GenerateStats st = generate(*model, graph, seq, prompt, go, on_token);

    if (decoder) {
        std::string rest = decoder->flush();
        std::fwrite(rest.data(), 1, rest.size(), stdout);
        std::printf("\n");
    } else {
        // --print-ids, or a model without a usable tokenizer: ids, comma-separated.
        for (size_t i = 0; i < generated.size(); ++i) std::printf(i ? ",%d" : "%d", generated[i]);
        std::printf("\n");
    }
    std::fflush(stdout);
    const double tg = st.n_generated > 1 ? (st.n_generated - 1) * 1000.0 / st.decode_ms : 0.0;
    std::fprintf(stderr,
                 "\nember: prompt %lld tokens in %.1f ms (%.1f t/s), generated %lld tokens (%.1f t/s), TTFT %.1f ms%s\n",
                 (long long)st.n_prompt, st.prefill_ms, st.n_prompt * 1000.0 / std::max(st.prefill_ms, 1e-9),
                 (long long)st.n_generated, tg, st.ttft_ms, st.stopped_at_eos ? ", stopped at EOS" : "");
    return 0;
}

}  // namespace

Command add_run_command(CLI::App& app) {
    auto f = std::make_shared<RunFlags>();
    CLI::App* sub = app.add_subcommand("run", "Generate text from a prompt (or token ids)");
    sub->add_option("model", f->model, "Model file (.ember)")->required()->check(CLI::ExistingFile);
    auto* p = sub->add_option("-p,--prompt", f->prompt, "Prompt text (\"\" = just BOS)");
    auto* pf = sub->add_option("-f,--file", f->prompt_file, "Read the prompt from a file")->check(CLI::ExistingFile);
    auto* tk = sub->add_option("--tokens", f->tokens, "Prompt as comma-separated token ids (no BOS added)");
    p->excludes(pf)->excludes(tk);
    pf->excludes(tk);
    sub->add_flag("--raw", f->raw, "Send the prompt as is (default: as a user message in the model's chat template)");
    sub->add_option("--system", f->system, "System prompt (chat template only)");
    add_config_option(sub, f->config);
    sub->add_option("-n,--n-predict,--max-new-tokens", f->n_predict, "Tokens to generate")->check(CLI::NonNegativeNumber);
    sub->add_option("-c,--ctx", f->ctx, "Context size in tokens (default: min(4096, model maximum))")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--cpus", f->cpus, "Pin threads to these CPUs, e.g. 0,1 or 0-3 (default thread count: one per CPU)");
    sub->add_option("-t,--threads", f->threads, "Threads (default: physical cores)")->check(CLI::NonNegativeNumber);
    sub->add_option("--kv-type", f->kv_type, "KV cache element type: f16, q8 or f32 (exact)")
        ->check(CLI::IsMember({"f32", "f16", "q8"}))
        ->capture_default_str();
    sub->add_option("--kv-mem", f->kv_mem, "KV cache size in bytes, e.g. 512M (default: sized for --ctx)");
    f->sampling.add_to(sub);
    sub->add_flag("--print-logits", f->print_logits, "Print the prompt's last-position logits, one per line");
    sub->add_flag("--print-ids", f->print_ids, "Print generated token ids (comma-separated) instead of text");
    sub->add_flag("--ignore-eos", f->ignore_eos, "Keep generating past end-of-sequence tokens");
    f->mem_check.add_to(sub);
    return {sub, [f, sub] {
                if (f->prompt.empty() && f->prompt_file.empty() && f->tokens.empty() && !sub->count("--prompt"))
                    throw CLI::RequiredError("one of --prompt, --file or --tokens");
                f->system_on_command_line = sub->count("--system") > 0;
                apply_config_file(*sub, config_file_path(f->config));
                return run(*f, *sub);
            }};
}

}  // namespace ember::cli
