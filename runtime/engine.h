// Continuous batching: an engine that serves many generation requests at once, one
// scheduler step at a time (docs/architecture.md, "Engine").
//
// Each step, every running sequence that has its next token decodes it, and prompts
// (new ones, or preempted sequences being recomputed) are prefilled in chunks within a
// per-step token budget; all of it is one LlamaGraph::forward_batch, so each weight matrix
// is read once per step. When the KV pool runs out, the most recently submitted running
// sequence is preempted: its blocks are released, and it goes back to the waiting queue to
// recompute its prompt + generated tokens later. Each request samples with its own seeded
// Sampler, so its tokens do not depend on what else runs beside it.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/kv_cache.h"
#include "runtime/llama_graph.h"
#include "runtime/sampler.h"

namespace ember {

using RequestId = uint64_t;

enum class FinishReason {
    kEos,        // the model's end-of-sequence token (included in the output)
    kStopToken,  // one of Request::stop_tokens (included in the output)
    kMaxTokens,  // max_new_tokens generated
    kCancelled,  // Engine::cancel, or on_token returned false
};
const char* finish_reason_name(FinishReason r);  // "eos", "stop", "length", "cancelled"

struct RequestResult {
    RequestId id = 0;
    std::vector<int32_t> tokens;  // generated tokens, in order (what on_token saw)
    FinishReason reason = FinishReason::kMaxTokens;
    int64_t n_prompt = 0;
    int n_preemptions = 0;  // times its blocks were taken back and its tokens recomputed
};

struct Request {
    std::vector<int32_t> prompt;  // token ids, at least one
    SamplingParams sampling;      // the request's own RNG is seeded from sampling.seed
    int64_t max_new_tokens = 256;
    std::vector<int32_t> stop_tokens;  // generating any of these ends the request
    bool stop_at_eos = true;           // the model's EOS ids end it too
    // Streaming: called from step() with each generated token as soon as it is chosen;
    // returning false cancels the request (the token was still delivered). May be empty.
    std::function<bool(RequestId, int32_t)> on_token;
    // Called once when the request ends (any reason, cancellation included); the engine
    // then keeps no result for take_result(). May be empty.
    std::function<void(const RequestResult&)> on_finish;
};

struct EngineOptions {
    int64_t max_context = 4096;  // positions per sequence: prompt + max_new_tokens must fit
    int32_t kv_blocks = 0;       // KV pool size in blocks; 0: one max_context's worth
    int block_tokens = 16;       // tokens per KV block
    int64_t step_tokens = 256;   // token budget of one step (decodes + prefill chunks)
    int64_t max_running = 16;    // sequences holding KV at once (<= step_tokens)
    DType kv_type = DType::F16;  // KV cache storage: f16, q8 or f32
    bool prefix_cache = true;    // attach cached blocks of a new request's prompt (runtime/kv_cache.h)
};

// What one step did.
struct StepStats {
    int64_t decode_tokens = 0;   // running sequences that decoded one token
    int64_t prefill_tokens = 0;  // prompt / recompute tokens processed
    int n_finished = 0;          // requests that ended in this step (cancellations included)
    int n_preempted = 0;         // sequences whose blocks were taken back
    int n_admitted = 0;          // waiting requests that started (or restarted) prefill
    int64_t cached_tokens = 0;   // prompt tokens of admitted requests found in the prefix cache (not computed)
};

class Engine {
public:
    // Allocates the KV pool and the graph's scratch (sized for step_tokens tokens).
    // Throws std::invalid_argument for inconsistent options.
    Engine(const Model& model, EngineOptions opts);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Queues a request. Throws std::invalid_argument (empty prompt, token id outside the
    // vocabulary, max_new_tokens < 1, a sequence the KV pool could never hold) or
    // ContextOverflow (prompt + max_new_tokens beyond max_context), queuing nothing.
    RequestId submit(Request request);

    // Ends a waiting or running request (reason kCancelled); its KV blocks return to the
    // pool at once (inside a step()'s callbacks: at the end of that step). Returns false
    // when the id is unknown or already finished.
    bool cancel(RequestId id);

    // One scheduler step: decode + prefill chunks in one batched forward, sampling, stop
    // checks, callbacks. Does nothing when idle().
    StepStats step();
    // step() until every request has finished.
    void run_until_idle();

    bool idle() const { return running_.empty() && waiting_.empty(); }
    size_t n_running() const { return running_.size(); }
    size_t n_waiting() const { return waiting_.size(); }
    const KvBlockPool& pool() const { return pool_; }
    const EngineOptions& options() const { return opts_; }

    // The result of a finished request, removed from the engine (nullopt while it runs,
    // for unknown ids, or when already taken).
    std::optional<RequestResult> take_result(RequestId id);

private:
    struct Sequence;
    struct Planned {
        Sequence* seq;
        int64_t n;  // tokens to run this step
    };

    void schedule(StepStats& st);
    bool reserve_or_preempt(Sequence& seq, int64_t n, StepStats& st);
    void preempt(Sequence& victim, StepStats& st);
    void finish(Sequence& seq, FinishReason reason, StepStats& st);
    void finish_cancelled(StepStats& st);

    const Model& model_;
    EngineOptions opts_;
    KvBlockPool pool_;
    LlamaGraph graph_;
    RequestId next_id_ = 1;
    bool in_step_ = false;

    std::vector<std::unique_ptr<Sequence>> running_;  // holding KV blocks
    std::deque<std::unique_ptr<Sequence>> waiting_;   // by id (oldest first): new and preempted
    std::vector<RequestResult> finished_;
    std::vector<Planned> plan_;           // this step's work
    std::vector<BatchItem> items_;        // [plan_.size()]
    std::vector<float> logits_;           // [items wanting logits, vocab], grown on demand
    std::vector<int32_t> next_;           // [plan_.size()]  sampled token per planned sequence, -1: none
    std::vector<Sequence*> order_;        // schedule(): running sequences by age
};

}  // namespace ember
