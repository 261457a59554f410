#include "runtime/chat_format.h"

#include <algorithm>

namespace ember {

namespace {

// End-of-turn / end-of-text markers of the template families Ember supports. One counts for
// a model only when its template writes it and its tokenizer has it as one token.
const char* const kEndOfTurnTokens[] = {
    "<|im_end|>",             // ChatML: Qwen2 / Qwen2.5, SmolLM2
    "<|eot_id|>",             // Llama 3.x
    "<|end_of_text|>",        // Llama 3 base
    "<|endoftext|>",          // Qwen2 base
    "<|end|>",                // Phi-3 style
    "<｜end▁of▁sentence｜>",  // DeepSeek-R1-Distill
    "</s>",                   // Llama 2 / TinyLlama (Zephyr)
};

std::string header_token(const nlohmann::json& tok, const char* key) {
    if (tok.is_object() && tok.contains(key) && tok[key].is_string()) return tok[key].get<std::string>();
    return "";
}

}  // namespace

bool ChatFormat::model_has_template(const Model& model) {
    return !model.tokenizer_info().chat_template.empty() && model.tokenizer() != nullptr;
}

ChatFormat::ChatFormat(const Model& model) : model_(model) {
    const std::string name = model.has_file() ? model.file().path().string() : std::string("the model");
    if (model.tokenizer_info().chat_template.empty())
        throw NoChatTemplate(name +
                             " has no chat template (a base model?); use `ember run --raw -p TEXT` for plain "
                             "text completion");
    if (!model.tokenizer())
        throw NoChatTemplate(name + " has a chat template but no tokenizer Ember can use (kind '" +
                             model.tokenizer_info().kind + "')");
    template_ = ChatTemplate::parse(model.tokenizer_info().chat_template);
    const nlohmann::json& tok =
        model.header().contains("tokenizer") ? model.header()["tokenizer"] : nlohmann::json();
    bos_token_ = header_token(tok, "bos_token");
    eos_token_ = header_token(tok, "eos_token");

    for (int64_t id : model.tokenizer_info().eos_token_ids) stop_ids_.push_back(int32_t(id));
    const std::string& src = template_.source();
    for (const char* marker : kEndOfTurnTokens) {
        if (src.find(marker) == std::string::npos && eos_token_ != marker) continue;
        const std::vector<int32_t> ids =
            model.tokenizer()->encode(marker, EncodeOptions{.allow_special = true});
        if (ids.size() == 1 && !is_stop(ids[0])) stop_ids_.push_back(ids[0]);
    }
}

bool ChatFormat::is_stop(int32_t id) const {
    return std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end();
}

std::string ChatFormat::render(const nlohmann::ordered_json& messages, bool add_generation_prompt) const {
    return render_chat(template_, messages, add_generation_prompt, bos_token_, eos_token_);
}

std::vector<int32_t> ChatFormat::encode(const nlohmann::ordered_json& messages,
                                        bool add_generation_prompt) const {
    return model_.tokenizer()->encode(render(messages, add_generation_prompt),
                                      EncodeOptions{.allow_special = true});
}

nlohmann::ordered_json single_turn_messages(const std::string& system, const std::string& user) {
    nlohmann::ordered_json m = nlohmann::ordered_json::array();
    if (!system.empty()) m.push_back({{"role", "system"}, {"content", system}});
    m.push_back({{"role", "user"}, {"content", user}});
    return m;
}

}  // namespace ember
