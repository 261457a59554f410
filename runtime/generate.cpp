#include "runtime/generate.h"

#include <algorithm>
#include <chrono>

namespace ember {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

GenerateStats generate(const Model& model, LlamaGraph& graph, SequenceKv& seq, std::span<const int32_t> prompt,
                       const GenerateOptions& opts, const std::function<bool(int32_t)>& on_token) {
    GenerateStats st;
    st.n_prompt = int64_t(prompt.size());
    const int64_t V = model.config().vocab_size;
    std::vector<float> logits(static_cast<size_t>(V));  // [vocab]
    std::vector<int32_t> history = opts.context_before;  // what the repetition penalty looks at
    history.insert(history.end(), prompt.begin(), prompt.end());
    history.reserve(history.size() + size_t(opts.max_new_tokens));
    Sampler sampler(opts.sampling, V);

    const auto t0 = std::chrono::steady_clock::now();
    graph.forward(prompt, seq, logits.data());
    st.prefill_ms = ms_since(t0);

    for (int64_t i = 0; i < opts.max_new_tokens; ++i) {
        const int32_t next = sampler.sample(logits, history);
        if (i == 0) st.ttft_ms = ms_since(t0);
        history.push_back(next);
        ++st.n_generated;
        const bool eos = opts.stop_at_eos && (model.is_eos(next) || std::find(opts.stop_ids.begin(),
                                                                                opts.stop_ids.end(),
                                                                                next) != opts.stop_ids.end());
        if (!on_token(next) || eos) {
            st.stopped_at_eos = eos;
            break;
        }
        if (i + 1 == opts.max_new_tokens) break;  // no forward for a token nobody will sample from
        const auto td = std::chrono::steady_clock::now();
        graph.forward(std::span<const int32_t>(&next, 1), seq, logits.data());
        st.decode_ms += ms_since(td);
    }
    return st;
}

SamplingParams sampling_defaults(const Model& model) {
    SamplingParams p;
    const auto& h = model.header();
    if (!h.contains("generation") || !h["generation"].is_object()) return p;
    const auto& g = h["generation"];
    auto num = [&](const char* key, auto& out) {
        if (g.contains(key) && g[key].is_number()) out = g[key].get<std::decay_t<decltype(out)>>();
    };
    num("temperature", p.temperature);
    num("top_p", p.top_p);
    num("top_k", p.top_k);
    num("repetition_penalty", p.repeat_penalty);
    if (g.contains("do_sample") && g["do_sample"].is_boolean() && !g["do_sample"].get<bool>()) p.temperature = 0;
    return p;
}

}  // namespace ember
