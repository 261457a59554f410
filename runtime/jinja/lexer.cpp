// Tokenizer following jinja2/lexer.py: the same tag search, whitespace control and
// expression token rules (float before integer before name before string before operator).
#include "runtime/jinja/lexer.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "runtime/jinja/utf8.h"

namespace ember::jinja {

namespace {

class Lexer {
  public:
    Lexer(std::string_view source, const LexOptions& opts) : opts_(opts) {
        // Jinja: \r\n and \r become \n; one trailing newline is dropped.
        src_.reserve(source.size());
        for (size_t i = 0; i < source.size(); ++i) {
            if (source[i] == '\r') {
                src_ += '\n';
                if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
            } else {
                src_ += source[i];
            }
        }
        if (!opts_.keep_trailing_newline && !src_.empty() && src_.back() == '\n') src_.pop_back();
        line_starts_.push_back(0);
        for (size_t i = 0; i < src_.size(); ++i)
            if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }

    std::vector<Token> run() {
        size_t pos = 0;
        bool line_starting = true;
        const size_t n = src_.size();
        while (pos < n) {
            size_t p = find_tag_start(pos);
            if (p == std::string::npos) {
                push_data(src_.substr(pos), pos);
                break;
            }
            char kind = src_[p + 1];  // '{', '%' or '#'
            size_t after = p + 2;
            char sign = 0;
            if (after < n && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];
            size_t raw_end = 0;
            bool is_raw = kind == '%' && match_raw_begin(p, raw_end);

            std::string text = src_.substr(pos, p - pos);
            if (sign == '-') {
                text = py_strip(text, false, true);
            } else if (sign != '+' && opts_.lstrip_blocks && kind != '{') {
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if ((l_pos > 0 || line_starting) && l_pos < text.size() && all_space(text, l_pos))
                    text.resize(l_pos);
            }
            push_data(text, pos);

            if (is_raw) {
                pos = lex_raw(raw_end, line_starting);
                continue;
            }
            if (kind == '#') {
                pos = lex_comment(after, p, line_starting);
                continue;
            }
            pos = lex_tag(kind == '{', p, after, line_starting);
        }
        Token eof{TokenType::Eof, "", 0, 0, pos_of(src_.size())};
        tokens_.push_back(eof);
        return std::move(tokens_);
    }

  private:
    SourcePos pos_of(size_t offset) const {
        auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
        size_t line = static_cast<size_t>(it - line_starts_.begin());  // 1-based
        size_t start = line_starts_[line - 1];
        return SourcePos{
            static_cast<int>(line),
            static_cast<int>(utf8_length(std::string_view(src_).substr(start, offset - start))) + 1};
    }

    [[noreturn]] void fail(const std::string& msg, size_t offset) const { throw Error(msg, pos_of(offset)); }

    static bool all_space(std::string_view s, size_t from) {
        for (size_t i = from; i < s.size();)
            if (!py_isspace(utf8_next(s, i))) return false;
        return true;
    }

    // Skips Python whitespace (\s) from i; returns the new offset.
    size_t skip_space(size_t i) const {
        while (i < src_.size()) {
            size_t j = i;
            if (!py_isspace(utf8_next(src_, j))) break;
            i = j;
        }
        return i;
    }

    void push_data(std::string text, size_t offset) {
        if (text.empty()) return;
        tokens_.push_back(Token{TokenType::Data, std::move(text), 0, 0, pos_of(offset)});
    }

    size_t find_tag_start(size_t from) const {
        for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
            if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
                return i;
        }
        return std::string::npos;
    }

    bool starts_with(size_t i, std::string_view s) const { return src_.compare(i, s.size(), s) == 0; }

    // Matches "{%[-+]?\s*raw\s*(-%}\s*|%})" at p; sets end to the offset after it.
    bool match_raw_begin(size_t p, size_t& end) const {
        size_t i = p + 2;
        if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) ++i;
        i = skip_space(i);
        if (!starts_with(i, "raw")) return false;
        i = skip_space(i + 3);
        if (starts_with(i, "-%}")) {
            end = skip_space(i + 3);
            return true;
        }
        if (starts_with(i, "%}")) {
            end = i + 2;
            return true;
        }
        return false;
    }

    // Block end at i: "+%}", "-%}" + whitespace, or "%}" + optional newline (trim_blocks).
    // Same for comments with '#'. Returns 0 when there is none at i.
    size_t match_tag_end(size_t i, char c) const {
        if (i + 2 < src_.size() && (src_[i] == '+' || src_[i] == '-') && src_[i + 1] == c &&
            src_[i + 2] == '}') {
            if (src_[i] == '+') return i + 3;
            return skip_space(i + 3);
        }
        if (i + 1 < src_.size() && src_[i] == c && src_[i + 1] == '}') {
            size_t e = i + 2;
            if (opts_.trim_blocks && e < src_.size() && src_[e] == '\n') ++e;
            return e;
        }
        return 0;
    }

    size_t lex_comment(size_t from, size_t start, bool& line_starting) {
        for (size_t q = from; q < src_.size(); ++q) {
            if (size_t e = match_tag_end(q, '#')) {
                line_starting = src_[e - 1] == '\n';
                return e;
            }
        }
        fail("Missing end of comment tag", start);
    }

    size_t lex_raw(size_t from, bool& line_starting) {
        line_starting = src_[from - 1] == '\n';
        for (size_t q = src_.find("{%", from); q != std::string::npos; q = src_.find("{%", q + 1)) {
            size_t i = q + 2;
            char sign = 0;
            if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) sign = src_[i++];
            i = skip_space(i);
            if (!starts_with(i, "endraw")) continue;
            i = skip_space(i + 6);
            size_t e = match_tag_end(i, '%');
            if (!e) continue;
            std::string text = src_.substr(from, q - from);
            if (sign == '-') {
                text = py_strip(text, false, true);
            } else if (sign != '+' && opts_.lstrip_blocks) {
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if ((l_pos > 0 || line_starting) && l_pos < text.size() && all_space(text, l_pos))
                    text.resize(l_pos);
            }
            push_data(text, from);
            line_starting = src_[e - 1] == '\n';
            return e;
        }
        fail("Missing end of raw directive", from);
    }

    // Expression tokens inside {{ }} or {% %}.
    size_t lex_tag(bool is_var, size_t start, size_t i, bool& line_starting) {
        tokens_.push_back(
            Token{is_var ? TokenType::VarBegin : TokenType::BlockBegin, "", 0, 0, pos_of(start)});
        std::vector<char> balance;
        const size_t n = src_.size();
        while (true) {
            if (i >= n)
                fail(is_var ? "unexpected end of template, expected end of print statement '}}'"
                            : "unexpected end of template, expected end of statement block '%}'",
                     start);
            if (balance.empty()) {
                if (is_var) {
                    if (starts_with(i, "-}}")) {
                        size_t e = skip_space(i + 3);
                        tokens_.push_back(Token{TokenType::VarEnd, "", 0, 0, pos_of(i)});
                        line_starting = src_[e - 1] == '\n';
                        return e;
                    }
                    if (starts_with(i, "}}")) {
                        tokens_.push_back(Token{TokenType::VarEnd, "", 0, 0, pos_of(i)});
                        line_starting = false;
                        return i + 2;
                    }
                } else if (size_t e = match_tag_end(i, '%')) {
                    tokens_.push_back(Token{TokenType::BlockEnd, "", 0, 0, pos_of(i)});
                    line_starting = src_[e - 1] == '\n';
                    return e;
                }
            }
            size_t j = i;
            char32_t c = utf8_next(src_, j);
            if (py_isspace(c)) {
                i = skip_space(i);
                continue;
            }
            if (size_t e = match_float(i)) {
                std::string digits;
                for (size_t k = i; k < e; ++k)
                    if (src_[k] != '_') digits += src_[k];
                tokens_.push_back(Token{TokenType::Float, src_.substr(i, e - i), 0,
                                        std::strtod(digits.c_str(), nullptr), pos_of(i)});
                i = e;
                continue;
            }
            if (size_t e = match_integer(i)) {
                push_integer(i, e);
                i = e;
                continue;
            }
            if (std::isalpha(static_cast<unsigned char>(src_[i])) || src_[i] == '_') {
                size_t e = i + 1;
                while (e < n && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
                tokens_.push_back(Token{TokenType::Name, src_.substr(i, e - i), 0, 0, pos_of(i)});
                i = e;
                continue;
            }
            if (src_[i] == '\'' || src_[i] == '"') {
                i = lex_string(i);
                continue;
            }
            static const char* const ops2[] = {"//", "**", "==", "!=", ">=", "<="};
            std::string op;
            for (const char* o : ops2)
                if (starts_with(i, o)) op = o;
            if (op.empty() &&
                std::string_view("+-/*%~[](){}=.:|,;<>").find(src_[i]) != std::string_view::npos)
                op = std::string(1, src_[i]);
            if (op.empty()) {
                std::string ch;
                utf8_append(ch, c);
                fail("unexpected char '" + ch + "'", i);
            }
            if (op == "(" || op == "[" || op == "{") {
                balance.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
            } else if (op == ")" || op == "]" || op == "}") {
                if (balance.empty()) fail("unexpected '" + op + "'", i);
                if (balance.back() != op[0])
                    fail("unexpected '" + op + "', expected '" + std::string(1, balance.back()) + "'", i);
                balance.pop_back();
            }
            tokens_.push_back(Token{TokenType::Operator, op, 0, 0, pos_of(i)});
            i += op.size();
        }
    }

    // (\d+_)*\d+ from i; returns the end or 0.
    size_t match_digits(size_t i) const {
        auto digit = [&](size_t k) {
            return k < src_.size() && std::isdigit(static_cast<unsigned char>(src_[k]));
        };
        if (!digit(i)) return 0;
        while (true) {
            while (digit(i)) ++i;
            if (i < src_.size() && src_[i] == '_' && digit(i + 1)) {
                ++i;
                continue;
            }
            return i;
        }
    }

    size_t match_float(size_t i) const {
        if (i > 0 && src_[i - 1] == '.') return 0;
        size_t e = match_digits(i);
        if (!e) return 0;
        auto exponent = [&](size_t k) -> size_t {
            if (k < src_.size() && (src_[k] == 'e' || src_[k] == 'E')) {
                ++k;
                if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
                return match_digits(k);
            }
            return 0;
        };
        if (e < src_.size() && src_[e] == '.') {
            if (size_t f = match_digits(e + 1)) {
                if (size_t x = exponent(f)) return x;
                return f;
            }
            return 0;
        }
        return exponent(e);
    }

    size_t match_integer(size_t i) const {
        auto lower = [&](size_t k) {
            return k < src_.size() ? std::tolower(static_cast<unsigned char>(src_[k])) : 0;
        };
        auto run = [&](size_t k, auto ok) {  // (_?[ok])+
            size_t start = k;
            while (true) {
                size_t m = k;
                if (lower(m) == '_') ++m;
                if (m < src_.size() && ok(lower(m))) {
                    k = m + 1;
                } else {
                    break;
                }
            }
            return k == start ? 0 : k;
        };
        if (lower(i) == '0' && (lower(i + 1) == 'b' || lower(i + 1) == 'o' || lower(i + 1) == 'x')) {
            char base = static_cast<char>(lower(i + 1));
            size_t e = run(i + 2, [&](int c) {
                if (base == 'b') return c == '0' || c == '1';
                if (base == 'o') return c >= '0' && c <= '7';
                return std::isxdigit(c) != 0;
            });
            if (e) return e;
        }
        if (lower(i) >= '1' && lower(i) <= '9') {
            size_t e = run(i + 1, [](int c) { return std::isdigit(c) != 0; });
            return e ? e : i + 1;
        }
        if (lower(i) == '0') {
            size_t e = run(i + 1, [](int c) { return c == '0'; });
            return e ? e : i + 1;
        }
        return 0;
    }

    void push_integer(size_t i, size_t e) {
        std::string digits;
        for (size_t k = i; k < e; ++k)
            if (src_[k] != '_') digits += src_[k];
        int base = 10;
        size_t skip = 0;
        if (digits.size() > 1 && digits[0] == '0' && std::isalpha(static_cast<unsigned char>(digits[1]))) {
            char b = static_cast<char>(std::tolower(static_cast<unsigned char>(digits[1])));
            base = b == 'b' ? 2 : b == 'o' ? 8 : 16;
            skip = 2;
        }
        errno = 0;
        long long v = std::strtoll(digits.c_str() + skip, nullptr, base);
        if (errno == ERANGE)
            fail("integer literal out of range (64-bit integers only): " + src_.substr(i, e - i), i);
        tokens_.push_back(
            Token{TokenType::Integer, src_.substr(i, e - i), static_cast<int64_t>(v), 0, pos_of(i)});
    }

    // A quoted string with Python escape sequences (unicode-escape codec rules).
    size_t lex_string(size_t i) {
        const char q = src_[i];
        size_t k = i + 1;
        std::string value;
        auto hex = [&](size_t at, int count, const char* what) -> char32_t {
            char32_t v = 0;
            for (int d = 0; d < count; ++d) {
                if (at + d >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[at + d])))
                    fail(std::string("truncated ") + what + " escape", i);
                char c = static_cast<char>(std::tolower(static_cast<unsigned char>(src_[at + d])));
                v = v * 16 + static_cast<char32_t>(c <= '9' ? c - '0' : c - 'a' + 10);
            }
            return v;
        };
        while (true) {
            if (k >= src_.size()) fail(std::string("unexpected char '") + q + "'", i);
            char c = src_[k];
            if (c == q) break;
            if (c != '\\') {
                value += c;
                ++k;
                continue;
            }
            if (k + 1 >= src_.size()) fail(std::string("unexpected char '") + q + "'", i);
            char e = src_[k + 1];
            k += 2;
            switch (e) {
                case '\n':
                    break;  // line continuation
                case '\\':
                    value += '\\';
                    break;
                case '\'':
                    value += '\'';
                    break;
                case '"':
                    value += '"';
                    break;
                case 'a':
                    value += '\a';
                    break;
                case 'b':
                    value += '\b';
                    break;
                case 'f':
                    value += '\f';
                    break;
                case 'n':
                    value += '\n';
                    break;
                case 'r':
                    value += '\r';
                    break;
                case 't':
                    value += '\t';
                    break;
                case 'v':
                    value += '\v';
                    break;
                case 'x':
                    utf8_append(value, hex(k, 2, "\\xXX"));
                    k += 2;
                    break;
                case 'u':
                    utf8_append(value, hex(k, 4, "\\uXXXX"));
                    k += 4;
                    break;
                case 'U': {
                    char32_t cp = hex(k, 8, "\\UXXXXXXXX");
                    if (cp > 0x10FFFF) fail("illegal Unicode character", i);
                    utf8_append(value, cp);
                    k += 8;
                    break;
                }
                case 'N':
                    fail("\\N{...} escapes are not supported", i);
                default:
                    if (e >= '0' && e <= '7') {
                        char32_t v = static_cast<char32_t>(e - '0');
                        for (int d = 0; d < 2 && k < src_.size() && src_[k] >= '0' && src_[k] <= '7';
                             ++d, ++k)
                            v = v * 8 + static_cast<char32_t>(src_[k] - '0');
                        utf8_append(value, v);
                    } else {
                        value += '\\';  // unknown escapes stay as written
                        k -= 1;
                    }
            }
        }
        tokens_.push_back(Token{TokenType::String, value, 0, 0, pos_of(i)});
        return k + 1;
    }

    LexOptions opts_;
    std::string src_;
    std::vector<size_t> line_starts_;
    std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexOptions& opts) {
    return Lexer(source, opts).run();
}

std::string describe_token(const Token& t) {
    switch (t.type) {
        case TokenType::Data:
            return "template data / text";
        case TokenType::VarBegin:
            return "begin of print statement";
        case TokenType::VarEnd:
            return "end of print statement";
        case TokenType::BlockBegin:
            return "begin of statement block";
        case TokenType::BlockEnd:
            return "end of statement block";
        case TokenType::Name:
            return t.text;
        case TokenType::String:
            return "string";
        case TokenType::Integer:
            return "integer";
        case TokenType::Float:
            return "float";
        case TokenType::Operator:
            return t.text;
        case TokenType::Eof:
            return "end of template";
    }
    return "?";
}

}  // namespace ember::jinja
