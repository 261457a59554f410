// ember-convert: Hugging Face checkpoint directory -> .ember model file.
// Flag parsing only; the work is runtime/convert/converter.cpp. Usage: docs/convert.md.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "runtime/convert/convert_version.h"
#include "runtime/convert/converter.h"

namespace {

int fail(const std::string& message) {
    std::fprintf(stderr, "ember-convert: error: %s\n", message.c_str());
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
        const ember::ConvertSummary summary = ember::convert_hf_checkpoint(opts);
        if (!quiet) std::fprintf(stderr, "%s\n", ember::format_summary(summary, opts.output).c_str());
        return 0;
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}
