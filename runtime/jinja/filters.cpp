// Jinja's builtin filters (jinja2/filters.py) with HF's tojson (json.dumps, ensure_ascii=False).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "runtime/jinja/builtins.h"
#include "runtime/jinja/helpers.h"
#include "runtime/jinja/pyformat.h"
#include "runtime/jinja/utf8.h"

namespace ember::jinja {

namespace {

using FilterFn = Value (*)(const Value&, CallArgs&);

const std::string& str_arg(const Value& v, const char* what) {
    if (v.is_undefined()) v.fail_undefined();
    if (!v.is_string()) throw Error(std::string(what) + " must be a string, not " + v.type_name());
    return v.as_string();
}

int64_t int_arg(const Value& v, const char* what) {
    if (v.is_int() || v.is_bool()) return v.as_int();
    if (v.is_undefined()) v.fail_undefined();
    throw Error(std::string(what) + " must be an integer, not " + v.type_name());
}

// Jinja's make_attrgetter: "a.b.0" walks items (then attributes); digit parts are indexes.
Value lookup_path(const Value& item, const std::string& path) {
    Value v = item;
    size_t start = 0;
    while (true) {
        size_t dot = path.find('.', start);
        std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        bool digits = !part.empty() &&
                      std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        v = get_item(v, digits ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part));
        if (dot == std::string::npos) return v;
        start = dot + 1;
    }
}

// Sort / unique / min / max key: attribute lookup, then lower-casing unless case_sensitive.
Value sort_key(const Value& item, const Value& attribute, bool case_sensitive) {
    Value v = item;
    if (!attribute.is_none() && !attribute.is_undefined()) {
        if (attribute.is_string() && attribute.as_string().find(',') != std::string::npos) {
            std::vector<Value> parts;
            std::string attrs = attribute.as_string();
            size_t start = 0;
            while (true) {
                size_t comma = attrs.find(',', start);
                std::string a = py_strip(
                    attrs.substr(start, comma == std::string::npos ? std::string::npos : comma - start), true,
                    true);
                parts.push_back(sort_key(item, Value(a), case_sensitive));
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
            return Value::tuple(std::move(parts));
        }
        v = attribute.is_string() ? lookup_path(item, attribute.as_string()) : get_item(item, attribute);
    }
    if (!case_sensitive && v.is_string()) return Value(str_lower(v.as_string()));
    return v;
}

Value f_abs(const Value& v, CallArgs&) {
    if (v.is_int() || v.is_bool()) {
        if (v.as_int() == INT64_MIN) throw Error("integer overflow");
        return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    }
    if (v.is_float()) return Value(std::fabs(v.as_double()));
    if (v.is_undefined()) v.fail_undefined();
    throw Error("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_attr(const Value& v, CallArgs& a) {
    return get_python_attr(v, str_arg(arg_at(a, 0, "name"), "attribute name"));
}

Value f_capitalize(const Value& v, CallArgs&) {
    std::u32string u = utf8_decode(v.str());
    for (size_t i = 0; i < u.size(); ++i) u[i] = i == 0 ? to_upper_cp(u[i]) : to_lower_cp(u[i]);
    return Value(utf8_encode(u));
}

Value f_center(const Value& v, CallArgs& a) {
    int64_t width = int_arg(arg_at(a, 0, "width", Value(80)), "width");
    std::u32string u = utf8_decode(v.str());
    int64_t len = static_cast<int64_t>(u.size());
    if (width <= len) return Value(v.str());
    int64_t marg = width - len, left = marg / 2 + (marg & width & 1);
    return Value(std::string(static_cast<size_t>(left), ' ') + v.str() +
                 std::string(static_cast<size_t>(marg - left), ' '));
}

Value f_default(const Value& v, CallArgs& a) {
    Value def = arg_at(a, 0, "default_value", Value(""));
    bool boolean = arg_at(a, 1, "boolean", Value(false)).truthy();
    if (v.is_undefined() || (boolean && !v.truthy())) return def;
    return v;
}

Value f_dictsort(const Value& v, CallArgs& a) {
    if (!v.is_dict()) throw Error("dictsort expects a mapping, got " + v.type_name());
    bool cs = arg_at(a, 0, "case_sensitive", Value(false)).truthy();
    std::string by = str_arg(arg_at(a, 1, "by", Value("key")), "by");
    bool reverse = arg_at(a, 2, "reverse", Value(false)).truthy();
    if (by != "key" && by != "value") throw Error("You can only sort by either 'key' or 'value'");
    std::vector<Value> items;
    for (const auto& kv : v.as_dict().items) items.push_back(Value::tuple({kv.first, kv.second}));
    size_t idx = by == "key" ? 0 : 1;
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        Value kx = sort_key(x.as_list().items[idx], Value::none(), cs);
        Value ky = sort_key(y.as_list().items[idx], Value::none(), cs);
        return reverse ? values_compare(ky, kx) < 0 : values_compare(kx, ky) < 0;
    });
    return Value::list(std::move(items));
}

Value f_escape(const Value& v, CallArgs&) {
    return escape_value(v);
}
Value f_forceescape(const Value& v, CallArgs&) {
    return Value::markup(html_escape(v.str()));
}

Value f_first(const Value& v, CallArgs&) {
    auto items = iterate(v);
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return items.front();
}

Value f_last(const Value& v, CallArgs&) {
    auto items = iterate(v);
    if (items.empty()) return Value::undefined("No last item, sequence was empty.");
    return items.back();
}

// Python float(str): optional whitespace, sign, digits with single underscores, inf/nan.
bool parse_py_float(const std::string& s0, double& out) {
    std::string s = py_strip(s0, true, true);
    std::string clean;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_') {
            if (i == 0 || i + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
                !std::isdigit(static_cast<unsigned char>(s[i + 1])))
                return false;
            continue;
        }
        clean += s[i];
    }
    if (clean.empty()) return false;
    std::string low = str_lower(clean);
    std::string body = (low[0] == '+' || low[0] == '-') ? low.substr(1) : low;
    if (body == "inf" || body == "infinity" || body == "nan") {
        out = body == "nan" ? NAN : (low[0] == '-' ? -INFINITY : INFINITY);
        return true;
    }
    for (char c : body)
        if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == '+' || c == '-'))
            return false;
    char* end = nullptr;
    errno = 0;
    out = std::strtod(clean.c_str(), &end);
    return end && *end == '\0';
}

bool parse_py_int(const std::string& s0, int base, int64_t& out) {
    std::string s = py_strip(s0, true, true);
    bool neg = false;
    size_t i = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (base == 0 || base == 16 || base == 8 || base == 2) {
        if (i + 1 < s.size() && s[i] == '0') {
            char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i + 1])));
            int b = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
            if (b && (base == 0 || base == b)) {
                base = b;
                i += 2;
                if (i < s.size() && s[i] == '_') ++i;
            }
        }
        if (base == 0) base = 10;
    }
    std::string digits;
    for (size_t k = i; k < s.size(); ++k) {
        if (s[k] == '_' && k > i && k + 1 < s.size() && s[k - 1] != '_') continue;
        digits += s[k];
    }
    if (digits.empty()) return false;
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(digits.c_str(), &end, base);
    if (!end || *end != '\0' || errno == ERANGE || digits[0] == '+' || digits[0] == '-' ||
        std::isspace(static_cast<unsigned char>(digits[0])))
        return false;
    out = neg ? -v : v;
    return true;
}

Value f_float(const Value& v, CallArgs& a) {
    Value def = arg_at(a, 0, "default", Value(0.0));
    if (v.is_undefined()) v.fail_undefined();  // float(Undefined) raises in Jinja
    if (v.is_number()) return Value(v.as_double());
    double d;
    if (v.is_string() && parse_py_float(v.as_string(), d)) return Value(d);
    return def;
}

Value f_int(const Value& v, CallArgs& a) {
    Value def = arg_at(a, 0, "default", Value(0));
    int base = static_cast<int>(int_arg(arg_at(a, 1, "base", Value(10)), "base"));
    if (v.is_undefined()) v.fail_undefined();  // int(Undefined) raises in Jinja
    if (v.is_int() || v.is_bool()) return Value(v.as_int());
    auto from_double = [](double d) {
        if (std::isnan(d) || std::isinf(d))
            throw Error("cannot convert float " + py_float_repr(d) + " to integer");
        if (std::fabs(d) >= 9.2233720368547758e18)
            throw Error("integer overflow (integers beyond 64 bits are not supported)");
        return Value(static_cast<int64_t>(std::trunc(d)));
    };
    if (v.is_float()) return from_double(v.as_double());
    if (v.is_string()) {
        int64_t i;
        if (parse_py_int(v.as_string(), base, i)) return Value(i);
        double d;
        if (parse_py_float(v.as_string(), d)) return from_double(d);
    }
    return def;
}

Value f_format(const Value& v, CallArgs& a) {
    if (!a.args.empty() && !a.kwargs.empty())
        throw Error("can't handle positional and keyword arguments at the same time");
    if (!a.kwargs.empty()) {
        auto d = std::make_shared<DictData>();
        for (const auto& kv : a.kwargs) d->set(Value(kv.first), kv.second);
        return Value(py_percent_format(v.str(), Value(d)));
    }
    return Value(py_percent_format(v.str(), Value::tuple(a.args)));
}

Value f_indent(const Value& v, CallArgs& a) {
    Value w = arg_at(a, 0, "width", Value(4));
    bool first = arg_at(a, 1, "first", Value(false)).truthy();
    bool blank = arg_at(a, 2, "blank", Value(false)).truthy();
    std::string ind = w.is_string()
                          ? w.as_string()
                          : std::string(static_cast<size_t>(std::max<int64_t>(0, int_arg(w, "width"))), ' ');
    CallArgs none;
    Value lines_v = get_attr(Value(v.str() + "\n"), "splitlines").as_function().call(none);
    const auto& lines = lines_v.as_list().items;
    std::string rv;
    if (blank) {
        for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i].as_string();
    } else {
        rv = lines.empty() ? "" : lines[0].as_string();
        for (size_t i = 1; i < lines.size(); ++i) {
            const std::string& l = lines[i].as_string();
            rv += "\n" + (l.empty() ? l : ind + l);
        }
    }
    if (first) rv = ind + rv;
    return Value(rv);
}

Value f_items(const Value& v, CallArgs&) {
    if (v.is_undefined()) return Value::list({});
    if (!v.is_dict()) throw Error("Can only get item pairs from a mapping.");
    std::vector<Value> items;
    for (const auto& kv : v.as_dict().items) items.push_back(Value::tuple({kv.first, kv.second}));
    return Value::list(std::move(items));
}

Value f_join(const Value& v, CallArgs& a) {
    std::string sep = arg_at(a, 0, "d", Value("")).str();
    Value attribute = arg_at(a, 1, "attribute", Value::none());
    std::string out;
    size_t k = 0;
    for (const auto& item : iterate(v)) {
        if (k++) out += sep;
        out += attribute.is_none() ? item.str() : sort_key(item, attribute, true).str();
    }
    return Value(out);
}

Value f_length(const Value& v, CallArgs&) {
    return Value(py_len(v));
}
Value f_list(const Value& v, CallArgs&) {
    return Value::list(iterate(v));
}
Value f_lower(const Value& v, CallArgs&) {
    return Value(str_lower(v.str()));
}
Value f_upper(const Value& v, CallArgs&) {
    return Value(str_upper(v.str()));
}
Value f_safe(const Value& v, CallArgs&) {
    return v.is_markup() ? v : Value::markup(v.str());
}
Value f_string(const Value& v, CallArgs&) {
    return v.is_markup() ? v : Value(v.str());
}

Value f_map(const Value& v, CallArgs& a) {
    std::vector<Value> out;
    if (!v.truthy()) return Value::list({});  // Jinja: `if value:` before iterating (none -> empty)
    Value attribute = arg_at(a, 1000, "attribute");
    if (!attribute.is_undefined()) {
        Value def = arg_at(a, 1000, "default");
        for (const auto& item : iterate(v)) {
            Value x =
                attribute.is_string() ? lookup_path(item, attribute.as_string()) : get_item(item, attribute);
            out.push_back(x.is_undefined() && !def.is_undefined() ? def : x);
        }
        return Value::list(std::move(out));
    }
    if (a.args.empty()) throw Error("map requires a filter argument");
    std::string name = str_arg(a.args[0], "filter name");
    if (!is_known_filter(name)) throw Error("No filter named '" + name + "'");
    CallArgs rest;
    rest.args.assign(a.args.begin() + 1, a.args.end());
    rest.kwargs = a.kwargs;
    for (const auto& item : iterate(v)) {
        CallArgs copy = rest;
        out.push_back(apply_filter(name, item, copy));
    }
    return Value::list(std::move(out));
}

// select / reject / selectattr / rejectattr
Value select_common(const Value& v, CallArgs& a, bool with_attr, bool keep_if) {
    size_t first = with_attr ? 1 : 0;
    std::string attr = with_attr ? str_arg(arg_at(a, 0, "attribute"), "attribute") : "";
    std::string test;
    CallArgs targs;
    if (a.args.size() > first) {
        test = str_arg(a.args[first], "test name");
        targs.args.assign(a.args.begin() + static_cast<long>(first) + 1, a.args.end());
        targs.kwargs = a.kwargs;
        if (!is_known_test(test)) throw Error("No test named '" + test + "'");
    }
    std::vector<Value> out;
    if (!v.truthy()) return Value::list({});  // Jinja: `if value:` before iterating (none -> empty)
    for (const auto& item : iterate(v)) {
        Value x = with_attr ? lookup_path(item, attr) : item;
        CallArgs copy = targs;
        bool ok = test.empty() ? x.truthy() : apply_test(test, x, copy);
        if (ok == keep_if) out.push_back(item);
    }
    return Value::list(std::move(out));
}
Value f_select(const Value& v, CallArgs& a) {
    return select_common(v, a, false, true);
}
Value f_reject(const Value& v, CallArgs& a) {
    return select_common(v, a, false, false);
}
Value f_selectattr(const Value& v, CallArgs& a) {
    return select_common(v, a, true, true);
}
Value f_rejectattr(const Value& v, CallArgs& a) {
    return select_common(v, a, true, false);
}

Value min_max(const Value& v, CallArgs& a, bool want_max) {
    bool cs = arg_at(a, 0, "case_sensitive", Value(false)).truthy();
    Value attribute = arg_at(a, 1, "attribute", Value::none());
    auto items = iterate(v);
    if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
        int c = values_compare(sort_key(items[i], attribute, cs), sort_key(items[best], attribute, cs));
        if (want_max ? c > 0 : c < 0) best = i;
    }
    return items[best];
}
Value f_max(const Value& v, CallArgs& a) {
    return min_max(v, a, true);
}
Value f_min(const Value& v, CallArgs& a) {
    return min_max(v, a, false);
}

Value f_replace(const Value& v, CallArgs& a) {
    CallArgs args;
    args.args = {Value(arg_at(a, 0, "old").str()), Value(arg_at(a, 1, "new").str())};
    Value count = arg_at(a, 2, "count", Value::none());
    if (!count.is_none()) args.args.push_back(count);
    return get_attr(Value(v.str()), "replace").as_function().call(args);
}

Value f_reverse(const Value& v, CallArgs&) {
    if (v.is_string()) {
        std::u32string u = utf8_decode(v.as_string());
        std::reverse(u.begin(), u.end());
        return Value(utf8_encode(u));
    }
    if (v.is_list() || v.is_dict()) {
        auto items = iterate(v);
        std::reverse(items.begin(), items.end());
        return Value::list(std::move(items));
    }
    if (v.is_undefined()) v.fail_undefined();
    throw Error("argument to reversed() must be a sequence");
}

// Python's round(x, n): correctly rounded, halves to even (glibc printf does the same).
double py_round(double x, int64_t ndigits) {
    if (!std::isfinite(x)) return x;
    if (ndigits > 300) return x;
    if (ndigits < 0) {
        double p = std::pow(10.0, static_cast<double>(-ndigits));
        double y = std::nearbyint(x / p) * p;
        return y;
    }
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(ndigits), x);
    return std::strtod(buf, nullptr);
}

Value f_round(const Value& v, CallArgs& a) {
    int64_t precision = int_arg(arg_at(a, 0, "precision", Value(0)), "precision");
    std::string method = str_arg(arg_at(a, 1, "method", Value("common")), "method");
    if (method != "common" && method != "ceil" && method != "floor")
        throw Error("method must be common, ceil or floor");
    if (v.is_undefined()) v.fail_undefined();
    if (!v.is_number()) throw Error("type " + v.type_name() + " doesn't define __round__ method");
    if (method == "common") {
        if (v.is_int() || v.is_bool()) {
            if (precision >= 0) return Value(v.as_int());
            return Value(static_cast<int64_t>(py_round(v.as_double(), precision)));
        }
        return Value(py_round(v.as_double(), precision));
    }
    double p = std::pow(10.0, static_cast<double>(precision));
    double x = v.as_double() * p;
    x = method == "ceil" ? std::ceil(x) : std::floor(x);
    return Value(x / p);
}

Value f_sort(const Value& v, CallArgs& a) {
    bool reverse = arg_at(a, 0, "reverse", Value(false)).truthy();
    bool cs = arg_at(a, 1, "case_sensitive", Value(false)).truthy();
    Value attribute = arg_at(a, 2, "attribute", Value::none());
    auto items = iterate(v);
    std::vector<std::pair<Value, Value>> keyed;
    for (auto& it : items) keyed.emplace_back(sort_key(it, attribute, cs), it);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        return reverse ? values_compare(y.first, x.first) < 0 : values_compare(x.first, y.first) < 0;
    });
    std::vector<Value> out;
    for (auto& kv : keyed) out.push_back(kv.second);
    return Value::list(std::move(out));
}

Value f_sum(const Value& v, CallArgs& a) {
    Value attribute = arg_at(a, 0, "attribute", Value::none());
    Value total = arg_at(a, 1, "start", Value(0));
    for (const auto& item : iterate(v))
        total = binary_op("+", total, attribute.is_none() ? item : sort_key(item, attribute, true));
    return total;
}

Value f_title(const Value& v, CallArgs&) {
    // Jinja: split on runs of [-\s({\[<]; each piece -> first upper, rest lower.
    std::u32string u = utf8_decode(v.str());
    auto is_sep = [](char32_t c) {
        return py_isspace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    };
    std::u32string out;
    bool at_start = true;
    for (char32_t c : u) {
        if (is_sep(c)) {
            out += c;
            at_start = true;
        } else {
            out += at_start ? to_upper_cp(c) : to_lower_cp(c);
            at_start = false;
        }
    }
    return Value(utf8_encode(out));
}

Value f_tojson(const Value& v, CallArgs& a) {
    // HF: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
    JsonOptions o;
    o.ensure_ascii = arg_at(a, 0, "ensure_ascii", Value(false)).truthy();
    Value indent = arg_at(a, 1, "indent", Value::none());
    if (indent.is_string()) {
        o.indent = indent.as_string();
    } else if (!indent.is_none()) {
        o.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, int_arg(indent, "indent"))), ' ');
    }
    if (o.indent) o.item_separator = ",";
    Value seps = arg_at(a, 2, "separators", Value::none());
    if (!seps.is_none()) {
        if (!seps.is_list() || seps.as_list().items.size() != 2)
            throw Error("separators must be an (item, key) pair");
        o.item_separator = str_arg(seps.as_list().items[0], "separator");
        o.key_separator = str_arg(seps.as_list().items[1], "separator");
    }
    o.sort_keys = arg_at(a, 3, "sort_keys", Value(false)).truthy();
    return Value(json_dumps(v, o));
}

Value f_trim(const Value& v, CallArgs& a) {
    Value chars = arg_at(a, 0, "chars", Value::none());
    if (chars.is_none()) return Value(py_strip(v.str(), true, true));
    std::string cs = str_arg(chars, "chars");
    return Value(py_strip(v.str(), true, true, &cs));
}

Value f_unique(const Value& v, CallArgs& a) {
    bool cs = arg_at(a, 0, "case_sensitive", Value(false)).truthy();
    Value attribute = arg_at(a, 1, "attribute", Value::none());
    std::vector<Value> out, seen;
    for (const auto& item : iterate(v)) {
        Value k = sort_key(item, attribute, cs);
        bool dup = false;
        for (const auto& s : seen) dup |= values_equal(s, k);
        if (!dup) {
            seen.push_back(k);
            out.push_back(item);
        }
    }
    return Value::list(std::move(out));
}

Value f_wordcount(const Value& v, CallArgs&) {
    int64_t n = 0;
    bool in_word = false;
    for (char32_t c : utf8_decode(v.str())) {
        bool w = py_isalnum(c) || c == '_';
        if (w && !in_word) ++n;
        in_word = w;
    }
    return Value(n);
}

const std::unordered_map<std::string, FilterFn>& filters() {
    static const std::unordered_map<std::string, FilterFn> table = {
        {"abs", f_abs},
        {"attr", f_attr},
        {"capitalize", f_capitalize},
        {"center", f_center},
        {"count", f_length},
        {"d", f_default},
        {"default", f_default},
        {"dictsort", f_dictsort},
        {"e", f_escape},
        {"escape", f_escape},
        {"first", f_first},
        {"float", f_float},
        {"forceescape", f_forceescape},
        {"format", f_format},
        {"indent", f_indent},
        {"int", f_int},
        {"items", f_items},
        {"join", f_join},
        {"last", f_last},
        {"length", f_length},
        {"list", f_list},
        {"lower", f_lower},
        {"map", f_map},
        {"max", f_max},
        {"min", f_min},
        {"reject", f_reject},
        {"rejectattr", f_rejectattr},
        {"replace", f_replace},
        {"reverse", f_reverse},
        {"round", f_round},
        {"safe", f_safe},
        {"select", f_select},
        {"selectattr", f_selectattr},
        {"sort", f_sort},
        {"string", f_string},
        {"sum", f_sum},
        {"title", f_title},
        {"tojson", f_tojson},
        {"trim", f_trim},
        {"unique", f_unique},
        {"upper", f_upper},
        {"wordcount", f_wordcount},
    };
    return table;
}

}  // namespace

bool is_known_filter(const std::string& name) {
    return filters().count(name) > 0;
}

bool is_unsupported_jinja_filter(const std::string& name) {
    static const char* const names[] = {"batch",     "filesizeformat", "groupby",   "pprint",
                                        "random",    "slice",          "striptags", "truncate",
                                        "urlencode", "urlize",         "wordwrap",  "xmlattr"};
    return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

Value apply_filter(const std::string& name, const Value& value, CallArgs& args) {
    auto it = filters().find(name);
    if (it == filters().end()) throw Error("No filter named '" + name + "'");
    Value out = it->second(value, args);
    // These filters call str methods on soft_str(value), which keep a Markup a Markup.
    if (value.is_markup() && out.is_string() && !out.is_markup() &&
        (name == "trim" || name == "upper" || name == "lower" || name == "title" || name == "capitalize" ||
         name == "center" || name == "indent" || name == "reverse"))
        return Value::markup(out.as_string());
    return out;
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

Value escape_value(const Value& v) {
    if (v.is_markup()) return v;
    return Value::markup(html_escape(v.str()));
}

}  // namespace ember::jinja
