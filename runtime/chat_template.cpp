// ChatTemplate: parse once, render many times; errors carry the template position.
#include "runtime/chat_template.h"

#include "runtime/jinja/interpreter.h"
#include "runtime/jinja/parser.h"

namespace ember {

namespace {

std::string render_value(const jinja::TemplateAst& ast, const jinja::Value& context,
                         const std::optional<std::tm>& fixed) {
    jinja::RenderSettings settings;
    if (fixed) {
        settings.now = *fixed;
    } else {
        std::time_t t = std::time(nullptr);
        localtime_r(&t, &settings.now);
    }
    try {
        return jinja::render_ast(ast, context, settings);
    } catch (const jinja::Error&) {
        throw;
    } catch (const std::exception& e) {  // a bug in the interpreter: still report it at the boundary
        throw ChatTemplateError(std::string("internal error while rendering: ") + e.what());
    }
}

}  // namespace

ChatTemplate ChatTemplate::parse(std::string source) {
    ChatTemplate t;
    t.ast_ = std::make_shared<const jinja::TemplateAst>(jinja::parse_template(source));
    t.source_ = std::move(source);
    return t;
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
    if (!context.is_object()) throw ChatTemplateError("the chat template context must be a JSON object");
    return render_value(*ast_, jinja::Value::from_json(context), fixed_now_);
}

std::string ChatTemplate::render(const nlohmann::json& context) const {
    if (!context.is_object()) throw ChatTemplateError("the chat template context must be a JSON object");
    return render_value(*ast_, jinja::Value::from_json(context), fixed_now_);
}

std::string render_chat(const ChatTemplate& tmpl, const nlohmann::ordered_json& messages,
                        bool add_generation_prompt, const std::string& bos_token,
                        const std::string& eos_token, const nlohmann::ordered_json& tools,
                        const nlohmann::ordered_json& extra) {
    nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
    ctx["messages"] = messages;
    ctx["tools"] = tools;
    ctx["add_generation_prompt"] = add_generation_prompt;
    if (!bos_token.empty()) ctx["bos_token"] = bos_token;
    if (!eos_token.empty()) ctx["eos_token"] = eos_token;
    if (extra.is_object())
        for (auto it = extra.begin(); it != extra.end(); ++it) ctx[it.key()] = it.value();
    return tmpl.render(ctx);
}

}  // namespace ember
