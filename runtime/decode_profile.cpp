#include "runtime/decode_profile.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <stdexcept>
#include <tuple>

#include "kernels/op_profile.h"
#include "runtime/kv_cache.h"
#include "runtime/llama_graph.h"

namespace ember {

namespace {

using ShapeKey = std::tuple<int, int64_t, int64_t>;  // (dtype, rows, cols)

// "q_proj, o_proj" for each weight shape of the model (layer 0 stands for all layers).
std::map<ShapeKey, std::string> weight_names(const Model& model) {
    std::map<ShapeKey, std::string> names;
    auto add = [&](const MatrixView& m, const char* name) {
        std::string& s = names[{int(m.dtype), m.rows, m.cols}];
        if (s.find(name) == std::string::npos) s += (s.empty() ? "" : ", ") + std::string(name);
    };
    const ModelWeights& w = model.weights();
    if (!w.layers.empty()) {
        const LayerWeights& L = w.layers[0];
        // Only the matrices the graph multiplies: fused ones (LayerWeights::qkv_proj,
        // gate_up_proj) in place of their parts unless EMBER_FUSE=0.
        if (L.qkv_proj && fuse_projections_enabled()) {
            add(*L.qkv_proj, "q_proj+k_proj+v_proj");
        } else {
            add(L.q_proj, "q_proj");
            add(L.k_proj, "k_proj");
            add(L.v_proj, "v_proj");
        }
        add(L.o_proj, "o_proj");
        if (L.gate_up_proj && fuse_projections_enabled()) {
            add(*L.gate_up_proj, "gate_proj+up_proj");
        } else {
            add(L.gate_proj, "gate_proj");
            add(L.up_proj, "up_proj");
        }
        add(L.down_proj, "down_proj");
    }
    add(w.lm_head, "lm_head");
    return names;
}

}  // namespace

DecodeProfile profile_decode(const Model& model, int64_t context, int64_t steps, int64_t max_context,
                             DType kv_type, uint64_t seed) {
    const ModelConfig& cfg = model.config();
    if (steps < 1) throw std::invalid_argument("--profile: need at least one decode step");
    if (context < 0 || context + steps + 1 > max_context)
        throw std::invalid_argument("--profile: context " + std::to_string(context) + " + " +
                                    std::to_string(steps + 1) + " decode steps exceed --ctx " +
                                    std::to_string(max_context));
    const bool was_enabled = op_profile_enabled();
    enable_op_profile(true);  // before the graph: it keeps the table it gets

    KvCacheShape shape{int(cfg.n_layers), int(cfg.n_kv_heads), int(cfg.head_dim), 16, kv_type};
    KvBlockPool pool(shape, int32_t((max_context + shape.block_tokens - 1) / shape.block_tokens));
    SequenceKv seq(pool);
    LlamaGraph graph(model, max_context);
    std::vector<float> logits(size_t(cfg.vocab_size));  // [vocab]
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int32_t> token(0, int32_t(cfg.vocab_size - 1));
    std::vector<int32_t> prompt(static_cast<size_t>(context));
    for (auto& t : prompt) t = token(rng);
    if (context > 0) graph.forward(prompt, seq, logits.data());
    int32_t next = token(rng);
    graph.forward({&next, 1}, seq, logits.data());  // untimed: warms caches and scratch

    reset_op_profile();
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < steps; ++i) {
        next = token(rng);
        graph.forward({&next, 1}, seq, logits.data());
    }
    const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::vector<OpStat> stats = op_profile_snapshot();
    enable_op_profile(was_enabled);

    DecodeProfile p;
    p.context = context;
    p.steps = steps;
    p.step_us = total_s * 1e6 / double(steps);
    const auto names = weight_names(model);
    double accounted = 0;
    for (const OpStat& s : stats) {
        ProfileRow r;
        r.op = s.op;
        r.calls_per_step = double(s.calls) / double(steps);
        r.us_per_step = s.seconds * 1e6 / double(steps);
        if (s.op == "matmul") {
            auto it = names.find({int(s.dtype), s.rows, s.cols});
            r.what = (it != names.end() ? it->second : std::string("?")) + " [" + std::to_string(s.rows) + " x " +
                     std::to_string(s.cols) + "] " + std::string(dtype_name(s.dtype));
            r.weight_gb_per_s = s.seconds > 0 ? double(s.weight_bytes) / s.seconds / 1e9 : 0;
            p.weight_bytes_per_step += double(s.weight_bytes) / double(steps);
        }
        accounted += r.us_per_step;
        p.rows.push_back(r);
    }
    ProfileRow glue;
    glue.op = "graph glue";
    glue.what = "embedding row, biases, residual adds, K/V copies, loops";
    glue.calls_per_step = 1;
    glue.us_per_step = std::max(0.0, p.step_us - accounted);
    p.rows.push_back(glue);
    for (ProfileRow& r : p.rows) r.share = p.step_us > 0 ? r.us_per_step / p.step_us : 0;
    return p;
}

std::string format_decode_profile(const DecodeProfile& p) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line,
                  "\nDecode step profile: %lld steps at context %lld..%lld: %.1f us/step (%.1f t/s), "
                  "%.1f MB of weights per step (%.1f GB/s overall)\n\n",
                  (long long)p.steps, (long long)p.context + 1, (long long)(p.context + p.steps), p.step_us,
                  p.step_us > 0 ? 1e6 / p.step_us : 0.0, p.weight_bytes_per_step / 1e6,
                  p.step_us > 0 ? p.weight_bytes_per_step / p.step_us / 1e3 : 0.0);
    out += line;
    out += "| op | weights | calls/step | us/step | share | weight GB/s |\n| --- | --- | ---: | ---: | ---: | ---: |\n";
    for (const ProfileRow& r : p.rows) {
        std::snprintf(line, sizeof line, "| %s | %s | %.0f | %.1f | %.1f%% | %s |\n", r.op.c_str(), r.what.c_str(),
                      r.calls_per_step, r.us_per_step, 100.0 * r.share,
                      r.weight_gb_per_s > 0 ? (std::to_string(r.weight_gb_per_s).substr(0, 5)).c_str() : "");
        out += line;
    }
    out +=
        "\nattention runs inside a parallel loop over heads: its time is thread-time / threads (an "
        "estimate).\n";
    return out;
}

}  // namespace ember
