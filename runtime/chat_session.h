// A conversation with a chat model: the message history, rendered with the model's chat
// template every turn, and a KV cache kept between turns. `ember chat` (runtime/chat_console.h)
// drives it; docs/usage.md describes the history and context policy.
//
// Prefix reuse: the cache holds the ids of the last prompt and answer. When the next turn's
// rendered prompt starts with exactly those ids, only the new suffix is forwarded; otherwise
// the cache is cleared and the whole prompt is prefilled. Both give the same tokens.
//
// Context policy: nothing is ever dropped silently. A turn whose prompt does not fit in the
// context (with room for one answer token) throws ContextOverflow and leaves the history as
// it was; the user decides (/reset, or a larger --ctx).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/chat_format.h"
#include "runtime/kv_cache.h"
#include "runtime/llama_graph.h"
#include "runtime/sampler.h"

namespace ember {

struct ChatSessionOptions {
    int64_t context = 4096;         // tokens of KV cache (prompt + answers)
    int64_t max_new_tokens = 1024;  // per answer
    bool keep_history = true;       // false: every question is asked alone (with the system prompt)
    bool reuse_cache = true;        // false: re-prefill the whole prompt every turn (tests compare)
    std::string system;             // system prompt; empty = none (the template may add a default)
    DType kv_type = DType::F16;     // KV cache storage (--kv-type): f16, q8 or f32
    SamplingParams sampling;
};

struct ChatTurnStats {
    int64_t n_prompt = 0;     // tokens of the rendered conversation
    int64_t n_reused = 0;     // of those, already in the KV cache from the previous turn
    int64_t n_generated = 0;  // answer tokens (the end-of-turn token included)
    double prefill_ms = 0;    // forward of the n_prompt - n_reused new tokens
    double ttft_ms = 0;       // question -> first answer token chosen
    double decode_ms = 0;
    bool end_of_turn = false;   // stopped at EOS / end-of-turn
    bool interrupted = false;   // on_text returned false (Ctrl-C)
    bool context_full = false;  // stopped because the context has no room left
};

class ChatSession {
  public:
    // Throws NoChatTemplate for models without a template; ContextOverflow-free otherwise.
    ChatSession(const Model& model, ChatSessionOptions options);

    // Asks `user_text`: renders history + question, generates, and streams the answer as text
    // pieces (complete UTF-8 only) to on_text; on_text returning false stops the answer (it is
    // kept, as far as it got, in the history). Throws ContextOverflow (history unchanged) when
    // the prompt does not fit.
    ChatTurnStats ask(const std::string& user_text, const std::function<bool(std::string_view)>& on_text);

    // Forgets the conversation (the system prompt stays) and empties the KV cache.
    void reset();
    // Replaces the system prompt ("" = none); the history stays.
    void set_system(std::string text) { options_.system = std::move(text); }
    const std::string& system() const { return options_.system; }

    // The messages the next question would be rendered after (system first, when set).
    nlohmann::ordered_json messages() const;
    // The ids the next turn would prefill for `user_text`.
    std::vector<int32_t> prompt_ids(const std::string& user_text) const;
    // Ids whose K/V the cache holds, in order.
    const std::vector<int32_t>& cached_ids() const { return cached_ids_; }
    const std::vector<int32_t>& last_answer_ids() const { return last_answer_; }
    const ChatTurnStats& last_stats() const { return last_stats_; }
    const ChatSessionOptions& options() const { return options_; }
    const ChatFormat& format() const { return format_; }

  private:
    nlohmann::ordered_json messages_with(const std::string& user_text) const;

    const Model& model_;
    ChatSessionOptions options_;
    ChatFormat format_;
    KvBlockPool pool_;  // options_.context tokens of K/V
    SequenceKv seq_;    // the one conversation's cache (uses pool_)
    LlamaGraph graph_;
    nlohmann::ordered_json history_ = nlohmann::ordered_json::array();  // user/assistant turns
    std::vector<int32_t> cached_ids_;                                   // [seq_.n_tokens()]
    std::vector<int32_t> last_answer_;
    ChatTurnStats last_stats_;
};

}  // namespace ember
