// A model's chat format: its chat template (from the .ember header) rendered over a list of
// messages and tokenized as Hugging Face's apply_chat_template(tokenize=True) does, and the
// ids that end an assistant turn. Used by `ember run` (one user message) and ChatSession.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/chat_template.h"
#include "runtime/model.h"

namespace ember {

// The model has no chat template (a base model) or no tokenizer to encode the rendering.
struct NoChatTemplate : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class ChatFormat {
  public:
    // Parses the model's template; throws NoChatTemplate (naming the file and suggesting
    // `ember run --raw`) when there is none, ChatTemplateError when it cannot be parsed.
    explicit ChatFormat(const Model& model);
    static bool model_has_template(const Model& model);

    // messages: [{"role": "system"|"user"|"assistant", "content": "..."}, ...].
    std::string render(const nlohmann::ordered_json& messages, bool add_generation_prompt) const;
    // The rendering as ids. Special tokens written by the template (<|im_start|>) become their
    // ids; no BOS is added (templates that want one write bos_token themselves), as in HF.
    std::vector<int32_t> encode(const nlohmann::ordered_json& messages,
                                bool add_generation_prompt = true) const;

    // The header's eos ids plus end-of-turn tokens the template writes (<|im_end|>, <|eot_id|>,
    // ...) that are single special tokens of this tokenizer. Generation stops at any of them.
    const std::vector<int32_t>& stop_ids() const { return stop_ids_; }
    bool is_stop(int32_t id) const;

  private:
    const Model& model_;
    ChatTemplate template_;
    std::string bos_token_, eos_token_;
    std::vector<int32_t> stop_ids_;
};

// [{"role":"system","content":system}] (when system is not empty) + [{"role":"user","content":user}].
nlohmann::ordered_json single_turn_messages(const std::string& system, const std::string& user);

}  // namespace ember
