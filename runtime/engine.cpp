// The continuous-batching engine: scheduling (admission, token budget, preemption), one
// batched forward per step, per-request sampling and stop conditions.
#include "runtime/engine.h"

#include <algorithm>
#include <string>

namespace ember {

// One request while it waits or runs. Its tokens are the prompt followed by everything
// generated so far; kv holds the first kv.n_tokens() of them, and the rest (the pending
// tokens) are what the next forward must run: one for a decoding sequence, the whole
// prompt for a new one, prompt + generated for one that was preempted.
struct Engine::Sequence {
    Sequence(RequestId id_, Request req_, KvBlockPool& pool, int64_t vocab)
        : id(id_), req(std::move(req_)), kv(pool), sampler(req.sampling, vocab) {
        n_prompt = int64_t(req.prompt.size());
        tokens = req.prompt;
        tokens.reserve(size_t(n_prompt + req.max_new_tokens));
    }
    int64_t pending() const { return int64_t(tokens.size()) - kv.n_tokens(); }
    int64_t n_generated() const { return int64_t(tokens.size()) - n_prompt; }

    RequestId id;  // also the arrival order: smaller = older = higher priority
    Request req;
    std::vector<int32_t> tokens;  // [n_prompt + n_generated]
    int64_t n_prompt = 0;
    SequenceKv kv;
    Sampler sampler;  // kept across preemption, so the random stream continues unchanged
    int n_preemptions = 0;
    bool cancel_requested = false;
};

const char* finish_reason_name(FinishReason r) {
    switch (r) {
        case FinishReason::kEos: return "eos";
        case FinishReason::kStopToken: return "stop";
        case FinishReason::kMaxTokens: return "length";
        case FinishReason::kCancelled: return "cancelled";
    }
    return "?";
}

namespace {

KvCacheShape kv_shape(const ModelConfig& c, int block_tokens, DType kv_type) {
    return {int(c.n_layers), int(c.n_kv_heads), int(c.head_dim), block_tokens, kv_type};
}

int32_t blocks_for(int64_t tokens, int block_tokens) {
    return int32_t((tokens + block_tokens - 1) / block_tokens);
}

const EngineOptions& checked(const EngineOptions& o, const ModelConfig& c) {
    if (o.max_context < 1) throw std::invalid_argument("engine: max_context must be positive");
    if (o.max_context > c.max_position)
        throw std::invalid_argument("engine: max_context " + std::to_string(o.max_context) +
                                    " exceeds the model's maximum of " + std::to_string(c.max_position) +
                                    " positions");
    if (o.block_tokens < 1) throw std::invalid_argument("engine: block_tokens must be positive");
    if (o.kv_blocks < 0) throw std::invalid_argument("engine: kv_blocks must not be negative");
    if (o.step_tokens < 1) throw std::invalid_argument("engine: step_tokens must be positive");
    if (o.max_running < 1 || o.max_running > o.step_tokens)
        throw std::invalid_argument("engine: max_running must be between 1 and step_tokens (" +
                                    std::to_string(o.step_tokens) + "): every running sequence decodes each step");
    return o;
}

}  // namespace

Engine::Engine(const Model& model, EngineOptions opts)
    : model_(model),
      opts_(checked(opts, model.config())),
      pool_(kv_shape(model.config(), opts_.block_tokens, opts_.kv_type),
            opts_.kv_blocks > 0 ? opts_.kv_blocks : blocks_for(opts_.max_context, opts_.block_tokens)),
      graph_(model, opts_.max_context, opts_.step_tokens) {
    running_.reserve(size_t(opts_.max_running));
    plan_.reserve(size_t(opts_.max_running));
    items_.reserve(size_t(opts_.max_running));
}

Engine::~Engine() = default;

RequestId Engine::submit(Request request) {
    const ModelConfig& c = model_.config();
    if (request.prompt.empty()) throw std::invalid_argument("request has an empty prompt");
    for (int32_t t : request.prompt)
        if (t < 0 || t >= c.vocab_size)
            throw std::invalid_argument("prompt token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                        std::to_string(c.vocab_size - 1) + ")");
    if (request.max_new_tokens < 1)
        throw std::invalid_argument("max_new_tokens must be at least 1 (got " +
                                    std::to_string(request.max_new_tokens) + ")");
    // The last generated token is never run through the model, hence the - 1.
    const int64_t positions = int64_t(request.prompt.size()) + request.max_new_tokens - 1;
    if (positions > opts_.max_context)
        throw ContextOverflow("context overflow: prompt of " + std::to_string(request.prompt.size()) +
                              " tokens + " + std::to_string(request.max_new_tokens) +
                              " new tokens exceed the context size " + std::to_string(opts_.max_context));
    if (blocks_for(positions, opts_.block_tokens) > pool_.n_blocks())
        throw std::invalid_argument("request needs " + std::to_string(blocks_for(positions, opts_.block_tokens)) +
                                    " KV blocks but the pool has only " + std::to_string(pool_.n_blocks()));
    const RequestId id = next_id_++;
    waiting_.push_back(std::make_unique<Sequence>(id, std::move(request), pool_, c.vocab_size));
    return id;
}

bool Engine::cancel(RequestId id) {
    for (auto& s : running_)
        if (s->id == id && !s->cancel_requested) {
            s->cancel_requested = true;
            if (!in_step_) {
                StepStats ignored;
                finish_cancelled(ignored);
            }
            return true;
        }
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it)
        if ((*it)->id == id && !(*it)->cancel_requested) {
            (*it)->cancel_requested = true;
            if (!in_step_) {
                StepStats ignored;
                finish_cancelled(ignored);
            }
            return true;
        }
    return false;
}

// Ends every sequence marked cancel_requested (running or waiting), freeing its blocks.
void Engine::finish_cancelled(StepStats& st) {
    for (size_t i = 0; i < running_.size();) {
        if (running_[i]->cancel_requested) {
            finish(*running_[i], FinishReason::kCancelled, st);
            running_.erase(running_.begin() + ptrdiff_t(i));
        } else {
            ++i;
        }
    }
    for (size_t i = 0; i < waiting_.size();) {
        if (waiting_[i]->cancel_requested) {
            finish(*waiting_[i], FinishReason::kCancelled, st);
            waiting_.erase(waiting_.begin() + ptrdiff_t(i));
        } else {
            ++i;
        }
    }
}

// Records the result and frees the blocks; the caller removes `seq` from its list.
void Engine::finish(Sequence& seq, FinishReason reason, StepStats& st) {
    seq.kv.clear();
    RequestResult r;
    r.id = seq.id;
    r.tokens.assign(seq.tokens.begin() + ptrdiff_t(seq.n_prompt), seq.tokens.end());
    r.reason = reason;
    r.n_prompt = seq.n_prompt;
    r.n_preemptions = seq.n_preemptions;
    ++st.n_finished;
    if (seq.req.on_finish)
        seq.req.on_finish(r);
    else
        finished_.push_back(std::move(r));
}

std::optional<RequestResult> Engine::take_result(RequestId id) {
    for (auto it = finished_.begin(); it != finished_.end(); ++it)
        if (it->id == id) {
            RequestResult r = std::move(*it);
            finished_.erase(it);
            return r;
        }
    return std::nullopt;
}

// Takes `victim`'s blocks back and requeues it (by age) to recompute its tokens later.
void Engine::preempt(Sequence& victim, StepStats& st) {
    victim.kv.clear();
    ++victim.n_preemptions;
    ++st.n_preempted;
    std::erase_if(plan_, [&](const Planned& p) { return p.seq == &victim; });
    auto it = std::find_if(running_.begin(), running_.end(), [&](const auto& s) { return s.get() == &victim; });
    std::unique_ptr<Sequence> owned = std::move(*it);
    running_.erase(it);
    auto pos = std::find_if(waiting_.begin(), waiting_.end(), [&](const auto& s) { return s->id > owned->id; });
    waiting_.insert(pos, std::move(owned));
}

// Reserves KV for `n` more tokens of running sequence `seq`, preempting the newest running
// sequences while the pool is short. False when `seq` itself had to go.
bool Engine::reserve_or_preempt(Sequence& seq, int64_t n, StepStats& st) {
    for (;;) {
        try {
            seq.kv.reserve(n);
            return true;
        } catch (const KvCacheFull&) {
            Sequence* newest = running_.front().get();
            for (auto& s : running_)
                if (s->id > newest->id) newest = s.get();
            preempt(*newest, st);
            if (newest == &seq) return false;
            // submit() checked that one sequence alone fits the pool, so the oldest running
            // sequence always gets its blocks in the end: no livelock.
        }
    }
}

// Decides this step's work (plan_) within the token budget, reserving its KV blocks:
//  1. every running sequence with one pending token decodes it (oldest first);
//  2. running sequences still prefilling get the next chunk of their pending tokens;
//  3. waiting requests are admitted, oldest first, with a first chunk, while the budget,
//     max_running and the free blocks allow (admission never preempts anyone).
void Engine::schedule(StepStats& st) {
    plan_.clear();
    std::sort(running_.begin(), running_.end(), [](const auto& a, const auto& b) { return a->id < b->id; });
    int64_t budget = opts_.step_tokens;

    std::vector<Sequence*>& order = order_;  // running_ changes under preemption; walk a snapshot
    order.clear();
    for (auto& s : running_) order.push_back(s.get());
    auto still_running = [&](Sequence* s) {
        return std::any_of(running_.begin(), running_.end(), [&](const auto& r) { return r.get() == s; });
    };
    for (int pass = 0; pass < 2; ++pass) {
        for (Sequence* s : order) {
            if (!still_running(s) || budget == 0) continue;
            const bool decoding = s->pending() == 1;
            if (decoding != (pass == 0)) continue;
            const int64_t n = std::min(s->pending(), budget);
            if (!reserve_or_preempt(*s, n, st)) continue;
            plan_.push_back({s, n});
            budget -= n;
        }
    }
    // Preemption may have removed planned sequences and returned their budget.
    budget = opts_.step_tokens;
    for (const Planned& p : plan_) budget -= p.n;

    while (!waiting_.empty() && budget > 0 && int64_t(running_.size()) < opts_.max_running) {
        Sequence& s = *waiting_.front();
        // Prefix cache: full blocks of its tokens that an earlier (or its own preempted)
        // run registered are attached, shared and read-only, instead of recomputed.
        const int64_t cached = opts_.prefix_cache && s.kv.n_tokens() == 0 ? s.kv.attach_cached_prefix(s.tokens) : 0;
        // Only when the pool can hold all its pending tokens: a prompt admitted into the last
        // free blocks would be preempted at its next chunk, its first chunk wasted.
        if (blocks_for(s.pending(), opts_.block_tokens) > pool_.free_blocks()) {
            s.kv.clear();  // do not hold cached blocks while waiting
            break;
        }
        const int64_t n = std::min(s.pending(), budget);
        try {
            s.kv.reserve(n);
        } catch (const KvCacheFull&) {
            s.kv.clear();
            break;  // wait for blocks; later requests must not overtake this one
        }
        st.cached_tokens += cached;
        running_.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
        plan_.push_back({&s, n});
        budget -= n;
        ++st.n_admitted;
    }
}

StepStats Engine::step() {
    StepStats st;
    if (idle()) return st;
    in_step_ = true;
    struct EndStep {  // also when forward_batch throws (it should not: submit() checked)
        bool& flag;
        ~EndStep() { flag = false; }
    } end_step{in_step_};
    schedule(st);

    const int64_t V = model_.config().vocab_size;
    int64_t n_logits = 0;
    for (const Planned& p : plan_) n_logits += p.n == p.seq->pending();
    if (logits_.size() < size_t(n_logits * V)) logits_.resize(size_t(n_logits * V));
    items_.clear();
    int64_t j = 0;
    for (const Planned& p : plan_) {
        const int64_t start = p.seq->kv.n_tokens();
        const bool last = p.n == p.seq->pending();  // the chunk reaches the newest token
        items_.push_back({&p.seq->kv, std::span<const int32_t>(p.seq->tokens).subspan(size_t(start), size_t(p.n)),
                          last ? &logits_[size_t(j++ * V)] : nullptr});
        if (p.n == 1 && p.seq->n_generated() > 0)
            ++st.decode_tokens;
        else
            st.prefill_tokens += p.n;
    }
    if (!items_.empty()) graph_.forward_batch(items_);

    // Sample every sequence that got logits (each with its own RNG: order-independent).
    std::vector<int32_t>& next = next_;
    next.assign(plan_.size(), -1);
#pragma omp parallel for schedule(dynamic, 1) if (plan_.size() > 1)
    for (size_t i = 0; i < plan_.size(); ++i) {
        if (items_[i].logits == nullptr) continue;
        Sequence& s = *plan_[i].seq;
        next[i] = s.sampler.sample(std::span<float>(items_[i].logits, size_t(V)), s.tokens);
    }

    // Deliver tokens in plan order; finished sequences leave running_.
    for (size_t i = 0; i < plan_.size(); ++i) {
        if (next[i] < 0) continue;
        Sequence& s = *plan_[i].seq;
        if (s.cancel_requested) continue;  // by an earlier callback of this step
        const int32_t tok = next[i];
        s.tokens.push_back(tok);
        if (s.req.on_token && !s.req.on_token(s.id, tok)) s.cancel_requested = true;
        if (s.cancel_requested) continue;  // finish_cancelled below
        std::optional<FinishReason> reason;
        if (s.req.stop_at_eos && model_.is_eos(tok))
            reason = FinishReason::kEos;
        else if (std::find(s.req.stop_tokens.begin(), s.req.stop_tokens.end(), tok) != s.req.stop_tokens.end())
            reason = FinishReason::kStopToken;
        else if (s.n_generated() >= s.req.max_new_tokens)
            reason = FinishReason::kMaxTokens;
        if (!reason) continue;
        finish(s, *reason, st);
        std::erase_if(running_, [&](const auto& r) { return r.get() == &s; });
    }
    in_step_ = false;
    finish_cancelled(st);
    return st;
}

void Engine::run_until_idle() {
    while (!idle()) step();
}

}  // namespace ember
