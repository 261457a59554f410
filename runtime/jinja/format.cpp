// Python's str.format (fields, conversions, format specs) and printf-style `%` formatting.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "runtime/jinja/builtins.h"
#include "runtime/jinja/utf8.h"

namespace ember::jinja {

namespace {

// Applies a format spec ([[fill]align][sign][0][width][,][.precision][type]) to a value.
std::string format_spec(const Value& v, const std::string& spec) {
    if (spec.empty()) return v.str();
    std::u32string sp = utf8_decode(spec);
    size_t i = 0;
    char32_t fill = ' ';
    char align = 0;
    auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
    if (sp.size() >= 2 && is_align(sp[1])) {
        fill = sp[0];
        align = static_cast<char>(sp[1]);
        i = 2;
    } else if (!sp.empty() && is_align(sp[0])) {
        align = static_cast<char>(sp[0]);
        i = 1;
    }
    char sign = 0;
    if (i < sp.size() && (sp[i] == '+' || sp[i] == '-' || sp[i] == ' ')) sign = static_cast<char>(sp[i++]);
    if (i < sp.size() && sp[i] == '0') {
        if (!align) {
            fill = '0';
            align = '=';
        }
        ++i;
    }
    int width = 0;
    while (i < sp.size() && sp[i] >= '0' && sp[i] <= '9')
        width = width * 10 + static_cast<int>(sp[i++] - '0');
    int precision = -1;
    if (i < sp.size() && sp[i] == '.') {
        ++i;
        precision = 0;
        while (i < sp.size() && sp[i] >= '0' && sp[i] <= '9')
            precision = precision * 10 + static_cast<int>(sp[i++] - '0');
    }
    char type = 0;
    if (i < sp.size()) type = static_cast<char>(sp[i++]);
    if (i != sp.size()) throw Error("Invalid format specifier '" + spec + "'");

    std::string body;
    bool numeric = v.is_number();
    if (type == 0 || type == 's') {
        if (type == 's' && !v.is_string())
            throw Error("Unknown format code 's' for object of type '" + v.type_name() + "'");
        body = v.str();
        if (precision >= 0 && v.is_string())
            body = utf8_encode(utf8_decode(body).substr(0, static_cast<size_t>(precision)));
        if (numeric && v.is_float() && precision >= 0) {
            char b[64];
            std::snprintf(b, sizeof(b), "%.*g", precision, v.as_double());
            body = b;
        }
    } else if (type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b') {
        if (!(v.is_int() || v.is_bool()))
            throw Error(std::string("Unknown format code '") + type + "' for object of type '" +
                        v.type_name() + "'");
        long long x = v.as_int();
        char b[80];
        if (type == 'd')
            std::snprintf(b, sizeof(b), "%lld", x);
        else if (type == 'x')
            std::snprintf(b, sizeof(b), "%llx", std::llabs(x));
        else if (type == 'X')
            std::snprintf(b, sizeof(b), "%llX", std::llabs(x));
        else if (type == 'o')
            std::snprintf(b, sizeof(b), "%llo", std::llabs(x));
        else {
            std::string bits;
            unsigned long long ux = static_cast<unsigned long long>(std::llabs(x));
            do {
                bits.insert(bits.begin(), static_cast<char>('0' + (ux & 1)));
                ux >>= 1;
            } while (ux);
            std::snprintf(b, sizeof(b), "%s", bits.c_str());
        }
        body = b;
        if (type != 'd' && x < 0) body = "-" + body;
    } else if (type == 'f' || type == 'F' || type == 'e' || type == 'E' || type == 'g' || type == 'G' ||
               type == '%') {
        if (!numeric)
            throw Error(std::string("Unknown format code '") + type + "' for object of type '" +
                        v.type_name() + "'");
        double x = v.as_double();
        if (type == '%') x *= 100;
        char b[512];
        std::string f =
            std::string("%.") + std::to_string(precision < 0 ? 6 : precision) + (type == '%' ? 'f' : type);
        std::snprintf(b, sizeof(b), f.c_str(), x);
        body = b;
        if (type == '%') body += "%";
    } else {
        throw Error(std::string("Unknown format code '") + type + "'");
    }
    if (numeric && sign && body[0] != '-') {
        if (sign == '+')
            body = "+" + body;
        else if (sign == ' ')
            body = " " + body;
    }
    std::u32string ub = utf8_decode(body);
    if (static_cast<int>(ub.size()) >= width) return body;
    size_t padn = static_cast<size_t>(width) - ub.size();
    if (!align) align = numeric ? '>' : '<';
    std::u32string fills(padn, fill);
    if (align == '<') return utf8_encode(ub + fills);
    if (align == '>') return utf8_encode(fills + ub);
    if (align == '^') return utf8_encode(fills.substr(0, padn / 2) + ub + fills.substr(0, padn - padn / 2));
    // '=': padding after the sign
    if (!ub.empty() && (ub[0] == '-' || ub[0] == '+' || ub[0] == ' '))
        return utf8_encode(ub.substr(0, 1) + fills + ub.substr(1));
    return utf8_encode(fills + ub);
}

}  // namespace

std::string py_format(const std::string& fmt, const CallArgs& args) {
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        char c = fmt[i];
        if (c == '}') {
            if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
                out += '}';
                ++i;
                continue;
            }
            throw Error("Single '}' encountered in format string");
        }
        if (c != '{') {
            out += c;
            continue;
        }
        if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out += '{';
            ++i;
            continue;
        }
        size_t close = fmt.find('}', i);
        if (close == std::string::npos) throw Error("Single '{' encountered in format string");
        std::string field = fmt.substr(i + 1, close - i - 1);
        i = close;
        std::string spec, conv;
        if (size_t colon = field.find(':'); colon != std::string::npos) {
            spec = field.substr(colon + 1);
            field = field.substr(0, colon);
        }
        if (size_t bang = field.find('!'); bang != std::string::npos) {
            conv = field.substr(bang + 1);
            field = field.substr(0, bang);
        }
        // field: "", an index, or a name, optionally followed by .attr / [key]
        size_t end = field.find_first_of(".[");
        std::string head = field.substr(0, end);
        Value v;
        if (head.empty()) {
            if (auto_index >= args.args.size())
                throw Error("Replacement index " + std::to_string(auto_index) +
                            " out of range for positional args tuple");
            v = args.args[auto_index++];
        } else if (std::all_of(head.begin(), head.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
            size_t k = std::stoul(head);
            if (k >= args.args.size())
                throw Error("Replacement index " + head + " out of range for positional args tuple");
            v = args.args[k];
        } else {
            bool found = false;
            for (const auto& kv : args.kwargs)
                if (kv.first == head) {
                    v = kv.second;
                    found = true;
                }
            if (!found) throw Error("KeyError: '" + head + "' in format string");
        }
        while (end != std::string::npos && end < field.size()) {
            if (field[end] == '.') {
                size_t nx = field.find_first_of(".[", end + 1);
                v = get_attr(
                    v, field.substr(end + 1, nx == std::string::npos ? std::string::npos : nx - end - 1));
                end = nx;
            } else {
                size_t rb = field.find(']', end);
                if (rb == std::string::npos) throw Error("Missing ']' in format string");
                std::string key = field.substr(end + 1, rb - end - 1);
                bool digits = !key.empty() && std::all_of(key.begin(), key.end(),
                                                          [](char ch) { return ch >= '0' && ch <= '9'; });
                v = get_item(v, digits ? Value(static_cast<int64_t>(std::stoll(key))) : Value(key));
                end = rb + 1;
            }
        }
        if (conv == "r")
            v = Value(v.repr());
        else if (conv == "s")
            v = Value(v.str());
        else if (!conv.empty())
            throw Error("Unknown conversion specifier " + conv);
        out += format_spec(v, spec);
    }
    return out;
}

std::string py_percent_format(const std::string& fmt, const Value& argv) {
    std::vector<Value> args;
    const DictData* mapping = nullptr;
    if (argv.is_tuple())
        args = argv.as_list().items;
    else if (argv.is_dict())
        mapping = &argv.as_dict();
    else
        args = {argv};
    if (argv.is_dict()) args = {argv};
    size_t next = 0;
    std::string out;
    for (size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%') {
            out += fmt[i];
            continue;
        }
        if (++i >= fmt.size()) throw Error("incomplete format");
        Value v;
        bool have = false;
        if (fmt[i] == '(') {
            size_t close = fmt.find(')', i);
            if (close == std::string::npos || !mapping) throw Error("format requires a mapping");
            const Value* found = mapping->find(Value(fmt.substr(i + 1, close - i - 1)));
            if (!found) throw Error("KeyError: '" + fmt.substr(i + 1, close - i - 1) + "'");
            v = *found;
            have = true;
            i = close + 1;
        }
        std::string flags;
        while (i < fmt.size() && std::string_view("-+ #0").find(fmt[i]) != std::string_view::npos)
            flags += fmt[i++];
        std::string width;
        while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) width += fmt[i++];
        std::string prec;
        if (i < fmt.size() && fmt[i] == '.') {
            prec = ".";
            ++i;
            while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) prec += fmt[i++];
        }
        if (i >= fmt.size()) throw Error("incomplete format");
        char type = fmt[i];
        if (type == '%') {
            out += '%';
            continue;
        }
        if (!have) {
            if (next >= args.size()) throw Error("not enough arguments for format string");
            v = args[next++];
        }
        std::string spec = "%" + flags + width + prec;
        char b[512];
        switch (type) {
            case 's':
            case 'r': {
                std::string s = type == 's' ? v.str() : v.repr();
                std::snprintf(b, sizeof(b), (spec + "s").c_str(), s.c_str());
                out += s.size() > 400 ? s : std::string(b);
                break;
            }
            case 'd':
            case 'i':
            case 'x':
            case 'X':
            case 'o': {
                if (!v.is_number())
                    throw Error(std::string("%") + type + " format: a real number is required, not " +
                                v.type_name());
                long long x = v.is_float() ? static_cast<long long>(v.as_double()) : v.as_int();
                std::snprintf(b, sizeof(b), (spec + "ll" + (type == 'i' ? 'd' : type)).c_str(), x);
                out += b;
                break;
            }
            case 'f':
            case 'F':
            case 'e':
            case 'E':
            case 'g':
            case 'G':
                if (!v.is_number()) throw Error("must be real number, not " + v.type_name());
                std::snprintf(b, sizeof(b), (spec + type).c_str(), v.as_double());
                out += b;
                break;
            default:
                throw Error(std::string("unsupported format character '") + type + "'");
        }
    }
    const bool mapping_like =
        argv.is_dict() || (argv.is_list() && !argv.is_tuple());  // Python: has __getitem__
    if (!mapping_like && next < args.size())
        throw Error("not all arguments converted during string formatting");
    return out;
}

}  // namespace ember::jinja
