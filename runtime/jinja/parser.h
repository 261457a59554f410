// Tokens -> syntax tree, following jinja2/parser.py (same precedence, same statements).
// Tags outside the supported subset (extends, include, import, block, call, ...) and unknown
// filters or tests are rejected here with their line and column.
#pragma once
#include <string_view>

#include "runtime/jinja/ast.h"

namespace ember::jinja {

TemplateAst parse_template(std::string_view source);

}  // namespace ember::jinja
