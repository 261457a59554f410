// Renders a parsed template against a context dict, with Jinja's scoping: a for-loop
// iteration, macro call or with-block gets its own frame; if-blocks do not; set writes to
// the current frame; namespace() objects are the way to carry values out of a loop.
#pragma once
#include <ctime>
#include <string>

#include "runtime/jinja/ast.h"
#include "runtime/jinja/value.h"

namespace ember::jinja {

struct RenderSettings {
    std::tm now{};  // the local time strftime_now() formats
};

// `context` must be a dict (its keys become template variables). Throws Error with the
// line and column of the failing construct.
std::string render_ast(const TemplateAst& ast, const Value& context, const RenderSettings& settings);

}  // namespace ember::jinja
