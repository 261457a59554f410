// Template source -> tokens, with Jinja's whitespace rules as HF configures them
// (trim_blocks: one newline after a block/comment tag is dropped; lstrip_blocks: spaces
// before a block/comment tag at the start of a line are dropped; "-" strips all whitespace
// on that side, "+" disables both; a single trailing newline of the source is dropped).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/jinja/value.h"

namespace ember::jinja {

enum class TokenType {
    Data,        // template text
    VarBegin,    // {{
    VarEnd,      // }}
    BlockBegin,  // {%
    BlockEnd,    // %}
    Name,
    String,  // text holds the decoded value
    Integer,
    Float,
    Operator,  // text holds the operator: + - * / // % ** ~ == != < <= > >= = . : | , ( ) [ ] { } ;
    Eof,
};

struct Token {
    TokenType type;
    std::string text;
    int64_t int_value = 0;
    double float_value = 0;
    SourcePos pos;
};

struct LexOptions {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
    bool keep_trailing_newline = false;
};

// Throws Error (with line and column) on malformed input: unclosed tags, bad characters.
std::vector<Token> tokenize(std::string_view source, const LexOptions& opts = {});

// Describes a token for error messages: "'endfor'", "end of statement block", ...
std::string describe_token(const Token& t);

}  // namespace ember::jinja
