// Chat templates: the Jinja templates shipped in tokenizer_config.json, rendered the way
// Hugging Face transformers renders them (ImmutableSandboxedEnvironment with trim_blocks,
// lstrip_blocks, loop controls, tojson(ensure_ascii=False), raise_exception, strftime_now).
// The interpreter is runtime/jinja/; docs/chat_templates.md lists what it supports.
#pragma once
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "runtime/jinja/value.h"

namespace ember {

namespace jinja {
struct TemplateAst;
}

// Parse and render errors; what() = "chat template error at line L, column C: <message>".
using ChatTemplateError = jinja::Error;

class ChatTemplate {
  public:
    // Parses `source`; throws ChatTemplateError naming the unsupported construct and its position.
    static ChatTemplate parse(std::string source);

    // Renders with `context` as the template variables (messages, add_generation_prompt, tools,
    // bos_token, ...). Use ordered_json to keep object key order (it shows in tojson output,
    // as Python dicts keep it); nlohmann::json sorts keys alphabetically.
    std::string render(const nlohmann::ordered_json& context) const;
    std::string render(const nlohmann::json& context) const;

    // strftime_now() normally formats the local time at render; tests fix it here.
    void set_fixed_time(const std::tm& local_time) { fixed_now_ = local_time; }

    const std::string& source() const { return source_; }

  private:
    std::string source_;
    std::shared_ptr<const jinja::TemplateAst> ast_;
    std::optional<std::tm> fixed_now_;
};

// What HF's apply_chat_template(messages, tools=tools, add_generation_prompt=...) renders.
// Empty bos/eos tokens are left undefined (as HF does for unset special tokens); `tools`
// null = no tools (passed as none, like HF); `extra` adds template kwargs (e.g. date_string).
std::string render_chat(const ChatTemplate& tmpl, const nlohmann::ordered_json& messages,
                        bool add_generation_prompt, const std::string& bos_token,
                        const std::string& eos_token, const nlohmann::ordered_json& tools = nullptr,
                        const nlohmann::ordered_json& extra = nlohmann::ordered_json::object());

}  // namespace ember
