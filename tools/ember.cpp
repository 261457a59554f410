// `ember`: run, info (and more as they land). All work happens in runtime/.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
    CLI::App app{"Ember: run Llama/Qwen2 models on CPUs people already own"};
    app.require_subcommand(1);
    // The kernel table is part of the version: tests (and bug reports) need to know which
    // arithmetic produced a result (the int8 tables quantize activations; generic does not).
    app.set_version_flag("--version", std::string("ember 0.1.0 (kernels: ") + ember::isa_description(ember::kernels()) + ")");
    const std::vector<ember::cli::Command> commands = {
        ember::cli::add_run_command(app),
        ember::cli::add_info_command(app),
        ember::cli::add_bench_command(app),
        ember::cli::add_perplexity_command(app),
        ember::cli::add_plan_command(app),
        ember::cli::add_tokenize_command(app), ember::cli::add_detokenize_command(app),
        ember::cli::add_chat_command(app),
    };
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        for (const auto& c : commands)
            if (c.app->parsed()) return c.run();
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "ember: error: %s\n", e.what());
        return 1;
    }
    return 1;
}
