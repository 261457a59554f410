#include "runtime/chat_session.h"

#include <algorithm>
#include <chrono>
#include <span>

#include "runtime/generate.h"

namespace ember {

namespace {

int64_t checked_context(const Model& model, int64_t context) {
    const int64_t max_pos = model.config().max_position;
    if (context <= 0 || context > max_pos)
        throw std::invalid_argument("context " + std::to_string(context) + " is outside 1.." +
                                    std::to_string(max_pos) + " (the model's maximum positions)");
    return context;
}

KvCacheShape cache_shape(const ModelConfig& c, DType kv_type) {
    return KvCacheShape{int(c.n_layers), int(c.n_kv_heads), int(c.head_dim), 16, kv_type};
}

int32_t blocks_for(int64_t tokens, int block_tokens) {
    return int32_t((tokens + block_tokens - 1) / block_tokens);
}

}  // namespace

ChatSession::ChatSession(const Model& model, ChatSessionOptions options)
    : model_(model),
      options_(std::move(options)),
      format_(model),
      pool_(cache_shape(model.config(), options_.kv_type),
            blocks_for(checked_context(model, options_.context), cache_shape(model.config(), options_.kv_type).block_tokens)),
      seq_(pool_),
      graph_(model, options_.context) {}

nlohmann::ordered_json ChatSession::messages() const {
    nlohmann::ordered_json m = nlohmann::ordered_json::array();
    if (!options_.system.empty()) m.push_back({{"role", "system"}, {"content", options_.system}});
    for (const auto& turn : history_) m.push_back(turn);
    return m;
}

nlohmann::ordered_json ChatSession::messages_with(const std::string& user_text) const {
    nlohmann::ordered_json m = messages();
    m.push_back({{"role", "user"}, {"content", user_text}});
    return m;
}

std::vector<int32_t> ChatSession::prompt_ids(const std::string& user_text) const {
    return format_.encode(messages_with(user_text), /*add_generation_prompt=*/true);
}

void ChatSession::reset() {
    history_ = nlohmann::ordered_json::array();
    seq_.clear();
    cached_ids_.clear();
    last_answer_.clear();
}

ChatTurnStats ChatSession::ask(const std::string& user_text,
                               const std::function<bool(std::string_view)>& on_text) {
    const auto t_question = std::chrono::steady_clock::now();  // TTFT counts rendering + tokenizing too
    const std::vector<int32_t> prompt = prompt_ids(user_text);
    const int64_t ctx = options_.context;
    if (int64_t(prompt.size()) >= ctx)
        throw ContextOverflow("the conversation with this question is " + std::to_string(prompt.size()) +
                              " tokens, and the context holds " + std::to_string(ctx) +
                              " (including at least one answer token)");

    // Reuse the cached ids when the new prompt extends them exactly (the usual case: the last
    // answer re-tokenizes to the ids that were generated). The suffix must not be empty: the
    // last prompt token's logits are needed and the cache cannot drop a token.
    size_t reused = 0;
    if (options_.reuse_cache && !cached_ids_.empty() && cached_ids_.size() < prompt.size() &&
        std::equal(cached_ids_.begin(), cached_ids_.end(), prompt.begin()))
        reused = cached_ids_.size();
    if (reused == 0) {
        seq_.clear();
        cached_ids_.clear();
    }

    GenerateOptions go;
    go.max_new_tokens = std::min<int64_t>(options_.max_new_tokens, ctx - int64_t(prompt.size()));
    go.stop_at_eos = true;
    go.sampling = options_.sampling;
    go.stop_ids = format_.stop_ids();
    go.context_before = cached_ids_;

    const Tokenizer& tok = *model_.tokenizer();
    StreamingDecoder decoder(tok, prompt);
    std::vector<int32_t> answer;
    bool interrupted = false;
    auto on_token = [&](int32_t id) {
        answer.push_back(id);
        if (format_.is_stop(id) || model_.is_eos(id)) return true;  // not text; generate() stops
        if (!on_text(decoder.push(id))) {
            interrupted = true;
            return false;
        }
        return true;
    };

    const double setup_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_question).count();
    GenerateStats gs;
    try {
        gs = generate(model_, graph_, seq_, std::span<const int32_t>(prompt).subspan(reused), go, on_token);
    } catch (...) {
        // The cache may hold part of this prompt; start clean next time.
        seq_.clear();
        cached_ids_.clear();
        throw;
    }
    const std::string rest = decoder.flush();
    if (!rest.empty()) on_text(rest);

    // The cache now holds the prompt and every answer id but the last (never forwarded).
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), answer.begin(), answer.end());
    cached_ids_.assign(all.begin(), all.begin() + seq_.n_tokens());

    std::vector<int32_t> text_ids = answer;
    if (gs.stopped_at_eos && !text_ids.empty()) text_ids.pop_back();
    last_answer_ = answer;
    if (options_.keep_history) {
        history_.push_back({{"role", "user"}, {"content", user_text}});
        history_.push_back(
            {{"role", "assistant"}, {"content", tok.decode(text_ids, DecodeOptions{.skip_special = true})}});
    }

    ChatTurnStats st;
    st.n_prompt = int64_t(prompt.size());
    st.n_reused = int64_t(reused);
    st.n_generated = gs.n_generated;
    st.prefill_ms = gs.prefill_ms;
    st.ttft_ms = setup_ms + gs.ttft_ms;
    st.decode_ms = gs.decode_ms;
    st.end_of_turn = gs.stopped_at_eos;
    st.interrupted = interrupted;
    st.context_full = !st.end_of_turn && !interrupted && go.max_new_tokens < options_.max_new_tokens &&
                      gs.n_generated == go.max_new_tokens;
    last_stats_ = st;
    return st;
}

}  // namespace ember
