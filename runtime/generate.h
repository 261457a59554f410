// The prompt -> tokens loop used by `ember run` (and later chat/serve): prefill, then
// sample and decode one token at a time until a stop condition.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "runtime/llama_graph.h"
#include "runtime/sampler.h"

namespace ember {

struct GenerateOptions {
    int64_t max_new_tokens = 256;
    bool stop_at_eos = true;
    SamplingParams sampling;
    // More ids that end the run as EOS does (with stop_at_eos): a chat template's
    // end-of-turn token (<|im_end|>, <|eot_id|>) that the header's eos ids may not name.
    std::vector<int32_t> stop_ids;
    // Ids already in `seq` before `prompt` (a chat prefix reused from the KV cache); the
    // repetition penalty sees them, so reusing a prefix samples as re-prefilling would.
    std::vector<int32_t> context_before;
};

struct GenerateStats {
    int64_t n_prompt = 0;
    int64_t n_generated = 0;
    double prefill_ms = 0;  // prompt forward
    double ttft_ms = 0;     // start -> first generated token chosen
    double decode_ms = 0;   // forwards of generated tokens
    bool stopped_at_eos = false;
};

// Feeds `prompt` into `seq` (after whatever it already holds), then generates. on_token(id)
// is called for each generated id (EOS included, when it ends the run); returning false
// stops early. The last generated id is never forwarded, so `seq` ends up holding the
// prompt and every generated id but the last.
GenerateStats generate(const Model& model, LlamaGraph& graph, SequenceKv& seq, std::span<const int32_t> prompt,
                       const GenerateOptions& opts, const std::function<bool(int32_t)>& on_token);

// Sampling defaults from the model's generation_config (header "generation"): a model
// that says do_sample=false is greedy; otherwise its temperature/top_p/top_k/penalty.
SamplingParams sampling_defaults(const Model& model);

}  // namespace ember
