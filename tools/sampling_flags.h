// The sampling options of the commands that generate text (run, chat): --temp, --top-k,
// --top-p, --min-p, --repeat-penalty, --repeat-last-n, --seed. An option the user did not
// give (on the command line or in the config file) keeps the model's generation default.
#pragma once
#include <CLI/CLI.hpp>

#include "runtime/generate.h"
#include "runtime/model.h"
#include "runtime/sampler.h"

namespace ember::cli {

struct SamplingFlags {
    SamplingParams given;  // what the options parsed into; only the options present count

    void add_to(CLI::App* sub) {
        sub->add_option("--temp", given.temperature, "Temperature; 0 = greedy (default: model's generation config)");
        sub->add_option("--top-k", given.top_k, "Top-k (0 = off)");
        sub->add_option("--top-p", given.top_p, "Top-p (1 = off)")->check(CLI::Range(0.0, 1.0));
        sub->add_option("--min-p", given.min_p, "Min-p (0 = off)")->check(CLI::Range(0.0, 1.0));
        sub->add_option("--repeat-penalty", given.repeat_penalty, "Repetition penalty (1 = off)")
            ->check(CLI::PositiveNumber);
        sub->add_option("--repeat-last-n", given.repeat_last_n, "Tokens the penalty looks back (-1 = all)");
        sub->add_option("--seed", given.seed, "Random seed (same seed, same output)");
    }

    // The model's generation defaults, then each option the user gave.
    SamplingParams resolve(const Model& model, const CLI::App& app) const {
        SamplingParams sp = sampling_defaults(model);
        if (app.count("--temp")) sp.temperature = given.temperature;
        if (app.count("--top-k")) sp.top_k = given.top_k;
        if (app.count("--top-p")) sp.top_p = given.top_p;
        if (app.count("--min-p")) sp.min_p = given.min_p;
        if (app.count("--repeat-penalty")) sp.repeat_penalty = given.repeat_penalty;
        if (app.count("--repeat-last-n")) sp.repeat_last_n = given.repeat_last_n;
        if (app.count("--seed")) sp.seed = given.seed;
        return sp;
    }
};

}  // namespace ember::cli
