// `ember chat MODEL`: an interactive conversation (runtime/chat_console.h, chat_session.h).
#include <cstdio>
#include <memory>
#include <string>

#include "runtime/chat_console.h"
#include "runtime/chat_session.h"
#include "runtime/generate.h"
#include "runtime/kv_cache.h"
#include "runtime/threads.h"
#include "tools/commands.h"
#include "tools/config_file.h"
#include "tools/mem_check_flags.h"
#include "tools/sampling_flags.h"

namespace ember::cli {
namespace {

struct ChatFlags {
    std::string model, system, config;
    std::string cpus;  // --cpus: CPU list to pin threads to
    std::string kv_type = "f16";
    MemCheckFlags mem_check;  // --mem, --no-mem-check
    int64_t n_predict = 1024;
    int64_t ctx = 0;
    int threads = 0;
    bool history = true;
    SamplingFlags sampling;  // --temp, --top-k, ... (tools/sampling_flags.h)
};

int chat(const ChatFlags& f, CLI::App& app) {
    configure_threads(f.threads, f.cpus);
    f.mem_check.check(f.model, f.ctx, f.threads, parse_kv_type(f.kv_type));  // refuse before loading what would not fit
    auto model = Model::load(f.model);
    const ModelConfig& cfg = model->config();

    ChatSessionOptions opt;
    opt.context = f.ctx > 0 ? f.ctx : std::min<int64_t>(4096, cfg.max_position);
    if (opt.context > cfg.max_position)
        throw std::invalid_argument("--ctx " + std::to_string(opt.context) +
                                    " exceeds the model's maximum of " + std::to_string(cfg.max_position) +
                                    " positions");
    opt.max_new_tokens = f.n_predict;
    opt.keep_history = f.history;
    opt.system = f.system;
    opt.kv_type = parse_kv_type(f.kv_type);
    // Sampling: the model's generation defaults, then whatever the user set explicitly.
    opt.sampling = f.sampling.resolve(*model, app);

    ChatSession session(*model, opt);
    const std::string banner = "ember chat: " + model->file().path().filename().string() + " (" + cfg.arch +
                               "), context " + std::to_string(opt.context) + " tokens, history " +
                               (opt.keep_history ? "on" : "off") +
                               ". /help lists commands; Ctrl-C stops an answer; /quit or Ctrl-D exits.\n";
    return run_chat_console(session, banner);
}

}  // namespace

Command add_chat_command(CLI::App& app) {
    auto f = std::make_shared<ChatFlags>();
    CLI::App* sub = app.add_subcommand("chat", "Chat with a model interactively (uses its chat template)");
    sub->add_option("model", f->model, "Model file (.ember)")->required()->check(CLI::ExistingFile);
    sub->add_option("--system", f->system, "System prompt (also /system TEXT)");
    sub->add_flag("--history,!--no-history", f->history,
                  "Keep the conversation (default) / --no-history: every question is asked alone");
    add_config_option(sub, f->config);
    sub->add_option("-n,--n-predict,--max-new-tokens", f->n_predict,
                    "Maximum tokens per answer (default 1024)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("-c,--ctx", f->ctx,
                    "Context size in tokens for the whole conversation (default: min(4096, "
                    "model maximum))")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("-t,--threads", f->threads, "Threads (default: physical cores)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--kv-type", f->kv_type, "KV cache element type: f16, q8 or f32 (exact)")
        ->check(CLI::IsMember({"f32", "f16", "q8"}))
        ->capture_default_str();
    f->mem_check.add_to(sub);
    sub->add_option("--cpus", f->cpus,
                    "Pin threads to these CPUs, e.g. 0,1 or 0-3 (default thread count: one per CPU)");
    f->sampling.add_to(sub);
    return {sub, [f, sub] {
                apply_config_file(*sub, config_file_path(f->config));
                return chat(*f, *sub);
            }};
}

}  // namespace ember::cli
