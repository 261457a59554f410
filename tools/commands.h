// Each `ember` subcommand registers its flags on a CLI11 subcommand and returns the
// function that runs it. Subcommands only parse flags and call runtime/.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace ember::cli {

struct Command {
    CLI::App* app;             // the CLI11 subcommand
    std::function<int()> run;  // called after parsing when this subcommand was chosen
};

Command add_run_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_perplexity_command(CLI::App& app);
Command add_plan_command(CLI::App& app);  // cmd_plan.cpp: memory planner
Command add_tokenize_command(CLI::App& app), add_detokenize_command(CLI::App& app);  // cmd_tokenize.cpp
Command add_chat_command(CLI::App& app);

}  // namespace ember::cli
