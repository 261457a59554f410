// Python's float repr, str repr and json.dumps, byte for byte.
#include "runtime/jinja/pyformat.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "runtime/jinja/utf8.h"

namespace ember::jinja {

std::string py_float_repr(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    if (x == 0) return std::signbit(x) ? "-0.0" : "0.0";
    // Shortest round-trip digits in scientific form: "d.ddde±XX".
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    bool neg = sci[0] == '-';
    if (neg) sci.erase(0, 1);
    size_t epos = sci.find('e');
    std::string mant = sci.substr(0, epos);
    int exp10 = std::atoi(sci.c_str() + epos + 1);
    std::string digits;
    for (char c : mant)
        if (c != '.') digits += c;
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    // Python: value = 0.d1d2... * 10^decpt; fixed notation when -4 < decpt <= 16.
    int decpt = exp10 + 1;
    std::string out = neg ? "-" : "";
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out += "0." + std::string(-decpt, '0') + digits;
        } else if (static_cast<size_t>(decpt) >= digits.size()) {
            out += digits + std::string(decpt - digits.size(), '0') + ".0";
        } else {
            out += digits.substr(0, decpt) + "." + digits.substr(decpt);
        }
    } else {
        out += digits.substr(0, 1);
        if (digits.size() > 1) {
            out += '.';
            out.append(digits, 1, std::string::npos);
        }
        int e = decpt - 1;
        char eb[16];
        std::snprintf(eb, sizeof(eb), "e%c%02d", e < 0 ? '-' : '+', std::abs(e));
        out += eb;
    }
    return out;
}

std::string py_str_repr(std::string_view s) {
    bool has_single = s.find('\'') != std::string_view::npos;
    bool has_double = s.find('"') != std::string_view::npos;
    char quote = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, quote);
    for (size_t i = 0; i < s.size();) {
        char32_t c = utf8_next(s, i);
        if (c == static_cast<char32_t>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (!py_isprintable(c)) {
            char b[16];
            if (c < 0x100)
                std::snprintf(b, sizeof(b), "\\x%02x", static_cast<unsigned>(c));
            else if (c < 0x10000)
                std::snprintf(b, sizeof(b), "\\u%04x", static_cast<unsigned>(c));
            else
                std::snprintf(b, sizeof(b), "\\U%08x", static_cast<unsigned>(c));
            out += b;
        } else {
            utf8_append(out, c);
        }
    }
    out += quote;
    return out;
}

namespace {

void json_string(std::string& out, std::string_view s, bool ensure_ascii) {
    out += '"';
    for (size_t i = 0; i < s.size();) {
        size_t start = i;
        char32_t c = utf8_next(s, i);
        char b[16];
        switch (c) {
            case '"':
                out += "\\\"";
                continue;
            case '\\':
                out += "\\\\";
                continue;
            case '\n':
                out += "\\n";
                continue;
            case '\r':
                out += "\\r";
                continue;
            case '\t':
                out += "\\t";
                continue;
            case '\b':
                out += "\\b";
                continue;
            case '\f':
                out += "\\f";
                continue;
            default:
                break;
        }
        if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
            if (c >= 0x10000) {
                char32_t v = c - 0x10000;
                std::snprintf(b, sizeof(b), "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                              static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
            } else {
                std::snprintf(b, sizeof(b), "\\u%04x", static_cast<unsigned>(c));
            }
            out += b;
        } else {
            out.append(s.substr(start, i - start));
        }
    }
    out += '"';
}

std::string json_float(double x) {
    if (std::isnan(x)) return "NaN";
    if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
    return py_float_repr(x);
}

std::string json_key(const Value& k) {
    switch (k.kind()) {
        case Value::Kind::String:
            return k.as_string();
        case Value::Kind::Int:
            return std::to_string(k.as_int());
        case Value::Kind::Float:
            return json_float(k.as_double());
        case Value::Kind::Bool:
            return k.as_bool() ? "true" : "false";
        case Value::Kind::None:
            return "null";
        default:
            throw Error("keys must be str, int, float, bool or None, not " + k.type_name());
    }
}

void dump(std::string& out, const Value& v, const JsonOptions& o, int level) {
    auto newline = [&](int lvl) {
        out += '\n';
        for (int i = 0; i < lvl; ++i) out += *o.indent;
    };
    switch (v.kind()) {
        case Value::Kind::None:
            out += "null";
            return;
        case Value::Kind::Bool:
            out += v.as_bool() ? "true" : "false";
            return;
        case Value::Kind::Int:
            out += std::to_string(v.as_int());
            return;
        case Value::Kind::Float:
            out += json_float(v.as_double());
            return;
        case Value::Kind::String:
            json_string(out, v.as_string(), o.ensure_ascii);
            return;
        case Value::Kind::List: {
            const auto& items = v.as_list().items;
            if (items.empty()) {
                out += "[]";
                return;
            }
            out += '[';
            if (o.indent) newline(level + 1);
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) {
                    out += o.item_separator;
                    if (o.indent) newline(level + 1);
                }
                dump(out, items[i], o, level + 1);
            }
            if (o.indent) newline(level);
            out += ']';
            return;
        }
        case Value::Kind::Dict: {
            std::vector<const std::pair<Value, Value>*> items;
            for (const auto& kv : v.as_dict().items) items.push_back(&kv);
            if (items.empty()) {
                out += "{}";
                return;
            }
            if (o.sort_keys)
                std::stable_sort(items.begin(), items.end(),
                                 [](auto* a, auto* b) { return values_compare(a->first, b->first) < 0; });
            out += '{';
            if (o.indent) newline(level + 1);
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) {
                    out += o.item_separator;
                    if (o.indent) newline(level + 1);
                }
                json_string(out, json_key(items[i]->first), o.ensure_ascii);
                out += o.key_separator;
                dump(out, items[i]->second, o, level + 1);
            }
            if (o.indent) newline(level);
            out += '}';
            return;
        }
        default:
            throw Error("Object of type " + v.type_name() + " is not JSON serializable");
    }
}

}  // namespace

std::string json_dumps(const Value& v, const JsonOptions& opts) {
    std::string out;
    dump(out, v, opts, 0);
    return out;
}

}  // namespace ember::jinja
