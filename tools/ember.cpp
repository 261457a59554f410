// `ember`: run, info (and more as they land). All work happens in runtime/.
#include <cstdio>
#include <exception>
#include <vector>

#include "tools/commands.h"

int main(int argc, char** argv) {
    CLI::App app{"Ember: run Llama/Qwen2 models on CPUs people already own"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "ember 0.1.0");
    const std::vector<ember::cli::Command> commands = {
        ember::cli::add_run_command(app),
        ember::cli::add_info_command(app),
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
