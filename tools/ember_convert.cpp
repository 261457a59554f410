// ember-convert: Hugging Face checkpoint directory -> .ember model file.
// Flag parsing only; the work is runtime/convert/converter.cpp. Usage: docs/convert.md.
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

#include "runtime/convert/convert_version.h"
#include "runtime/convert/converter.h"

namespace {

// Messages may quote bytes from a corrupt input file (a tensor name, nlohmann's "last read"):
// keep valid UTF-8 and print anything else, and control characters, as \xNN.
std::string printable(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size() && (c >= 0x20 || c == '\n') && c != 0x7f;
        for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
        if (ok) {
            out.append(s, i, len);
            i += len;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
            ++i;
        }
    }
    return out;
}

// Ctrl-C / kill: ask the converter to stop at the next tensor so it removes its temp file.
// A second signal gets the default action (immediate exit).
std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the flag is set from a signal handler");
extern "C" void on_interrupt(int sig) {
    interrupted.store(true);
    std::signal(sig, SIG_DFL);
}

int fail(const std::string& message) {
    std::fprintf(stderr, "ember-convert: error: %s\n", printable(message).c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Convert a Hugging Face Llama / Qwen2 checkpoint (config.json, *.safetensors, tokenizer "
                 "files) into an .ember model file.",
                 "ember-convert"};
    app.set_version_flag("--version", std::string("ember-convert ") + EMBER_VERSION);

    const std::vector<std::string> types = {"f32", "f16", "bf16", "q8", "q4"};
    std::string hf_dir, output, type = "f16", embed_type;
    bool quiet = false;
    app.add_option("HF_DIR", hf_dir, "Checkpoint directory (config.json, model.safetensors or shards + index)")
        ->required();
    app.add_option("-o,--output", output, "Output .ember file (replaced atomically if it exists)")->required();
    app.add_option("-t,--type,--quant", type, "Weight matrix type")
        ->check(CLI::IsMember(types))
        ->capture_default_str();
    app.add_option("--embed-type", embed_type,
                   "Type of embed_tokens / lm_head (default: q8 when --type is q4, else --type)")
        ->check(CLI::IsMember(types));
    app.add_flag("-q,--quiet", quiet, "Print nothing but errors (no progress, notes, warnings or summary)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return fail(std::string(e.what()) + " (see --help)");
    }

    try {
        ember::ConvertOptions opts;
        opts.hf_dir = hf_dir;
        opts.output = output;
        opts.type = *ember::dtype_from_name(type);  // IsMember guarantees a known name
        if (!embed_type.empty()) opts.embed_type = *ember::dtype_from_name(embed_type);
        opts.quiet = quiet;
        opts.cancel = &interrupted;
        std::signal(SIGINT, on_interrupt);
        std::signal(SIGTERM, on_interrupt);
        const ember::ConvertSummary summary = ember::convert_hf_checkpoint(opts);
        if (!quiet) std::fprintf(stderr, "%s\n", ember::format_summary(summary, opts.output).c_str());
        return 0;
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}
