// Python's str methods (strip, split, startswith, replace, find, join, format, ...) on code
// points, and markupsafe's Markup versions of them (string arguments escaped, results Markup).
#include <algorithm>

#include "runtime/jinja/builtins.h"
#include "runtime/jinja/helpers.h"
#include "runtime/jinja/utf8.h"

namespace ember::jinja {

using namespace detail;

namespace {

std::vector<std::u32string> split_ws(const std::u32string& s, int64_t maxsplit, bool from_right) {
    std::vector<std::u32string> parts;
    if (!from_right) {
        size_t i = 0, n = s.size();
        while (true) {
            while (i < n && py_isspace(s[i])) ++i;
            if (i >= n) break;
            if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
                parts.push_back(s.substr(i));
                break;
            }
            size_t j = i;
            while (j < n && !py_isspace(s[j])) ++j;
            parts.push_back(s.substr(i, j - i));
            i = j;
        }
        return parts;
    }
    int64_t i = static_cast<int64_t>(s.size()) - 1;
    while (true) {
        while (i >= 0 && py_isspace(s[static_cast<size_t>(i)])) --i;
        if (i < 0) break;
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
            parts.push_back(s.substr(0, static_cast<size_t>(i + 1)));
            break;
        }
        int64_t j = i;
        while (j >= 0 && !py_isspace(s[static_cast<size_t>(j)])) --j;
        parts.push_back(s.substr(static_cast<size_t>(j + 1), static_cast<size_t>(i - j)));
        i = j;
    }
    std::reverse(parts.begin(), parts.end());
    return parts;
}

std::vector<std::u32string> split_sep(const std::u32string& s, const std::u32string& sep, int64_t maxsplit,
                                      bool from_right) {
    if (sep.empty()) throw Error("empty separator");
    std::vector<std::u32string> parts;
    if (!from_right) {
        size_t i = 0;
        while (true) {
            size_t j = s.find(sep, i);
            if (j == std::u32string::npos ||
                (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
                parts.push_back(s.substr(i));
                break;
            }
            parts.push_back(s.substr(i, j - i));
            i = j + sep.size();
        }
        return parts;
    }
    size_t end = s.size();
    while (true) {
        size_t j = end >= sep.size() ? s.rfind(sep, end - sep.size()) : std::u32string::npos;
        if (j == std::u32string::npos || (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
            parts.push_back(s.substr(0, end));
            break;
        }
        parts.push_back(s.substr(j + sep.size(), end - j - sep.size()));
        end = j;
    }
    std::reverse(parts.begin(), parts.end());
    return parts;
}

Value list_of_strings(const std::vector<std::u32string>& parts) {
    std::vector<Value> items;
    for (const auto& p : parts) items.push_back(str_value(p));
    return Value::list(std::move(items));
}

std::u32string py_title(const std::u32string& s) {
    std::u32string out;
    bool prev_cased = false;
    for (char32_t c : s) {
        out += prev_cased ? to_lower_cp(c) : to_upper_cp(c);
        prev_cased = is_upper_cp(c) || is_lower_cp(c);
    }
    return out;
}

std::u32string py_capitalize(const std::u32string& s) {
    std::u32string out;
    for (size_t i = 0; i < s.size(); ++i) out += i == 0 ? to_upper_cp(s[i]) : to_lower_cp(s[i]);
    return out;
}

template <typename Pred>
bool all_chars(const std::u32string& s, Pred p) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), p);
}

// Optional start/end arguments of find/count/startswith (code point indices, slice rules).
std::u32string sub_range(const std::u32string& s, const CallArgs& a, size_t first_index, size_t& offset) {
    Value vs = arg_at(a, first_index, "start", Value::none());
    Value ve = arg_at(a, first_index + 1, "end", Value::none());
    int64_t start, stop;
    slice_indices(static_cast<int64_t>(s.size()), vs, ve, 1, start, stop);
    offset = static_cast<size_t>(start);
    if (stop <= start) return std::u32string();
    return s.substr(static_cast<size_t>(start), static_cast<size_t>(stop - start));
}

Value pad(const std::u32string& s, const CallArgs& a, int align) {
    int64_t width = need_int(arg_at(a, 0, "width"), "width");
    Value fillv = arg_at(a, 1, "fillchar", Value(" "));
    std::u32string fill = u32(fillv);
    if (fill.size() != 1) throw Error("The fill character must be exactly one character long");
    int64_t len = static_cast<int64_t>(s.size());
    if (width <= len) return str_value(s);
    int64_t marg = width - len, left = 0;
    if (align < 0)
        left = 0;
    else if (align > 0)
        left = marg;
    else
        left = marg / 2 + (marg & width & 1);
    return str_value(std::u32string(static_cast<size_t>(left), fill[0]) + s +
                     std::u32string(static_cast<size_t>(marg - left), fill[0]));
}

}  // namespace

namespace detail {

Value string_method(const Value& self, const std::string& name) {
    const std::string s = self.as_string();
    auto m = [&](std::function<Value(CallArgs&)> f) { return make_function("str." + name, std::move(f)); };
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        bool l = name != "rstrip", r = name != "lstrip";
        return m([s, l, r](CallArgs& a) {
            Value chars = arg_at(a, 0, "chars", Value::none());
            if (chars.is_none()) return Value(py_strip(s, l, r));
            std::string cs = need_str(chars, "strip arg");
            return Value(py_strip(s, l, r, &cs));
        });
    }
    if (name == "split" || name == "rsplit") {
        bool right = name == "rsplit";
        return m([s, right](CallArgs& a) {
            Value sep = arg_at(a, 0, "sep", Value::none());
            int64_t maxsplit = need_int(arg_at(a, 1, "maxsplit", Value(-1)), "maxsplit");
            std::u32string u = utf8_decode(s);
            if (sep.is_none()) return list_of_strings(split_ws(u, maxsplit, right));
            return list_of_strings(split_sep(u, utf8_decode(need_str(sep, "separator")), maxsplit, right));
        });
    }
    if (name == "splitlines") {
        return m([s](CallArgs& a) {
            bool keep = arg_at(a, 0, "keepends", Value(false)).truthy();
            std::u32string u = utf8_decode(s);
            std::vector<std::u32string> parts;
            size_t i = 0, start = 0;
            auto is_break = [](char32_t c) {
                return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
                       c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
            };
            while (i < u.size()) {
                if (is_break(u[i])) {
                    size_t eol = i + ((u[i] == '\r' && i + 1 < u.size() && u[i + 1] == '\n') ? 2 : 1);
                    parts.push_back(u.substr(start, (keep ? eol : i) - start));
                    start = i = eol;
                } else {
                    ++i;
                }
            }
            if (start < u.size()) parts.push_back(u.substr(start));
            return list_of_strings(parts);
        });
    }
    if (name == "startswith" || name == "endswith") {
        bool ends = name == "endswith";
        return m([s, ends](CallArgs& a) {
            Value p = arg_at(a, 0, ends ? "suffix" : "prefix");
            size_t off;
            std::u32string u = sub_range(utf8_decode(s), a, 1, off);
            std::vector<Value> cands = p.is_tuple() ? p.as_list().items : std::vector<Value>{p};
            for (const auto& c : cands) {
                std::u32string x = utf8_decode(need_str(c, ends ? "endswith arg" : "startswith arg"));
                if (x.size() > u.size()) continue;
                if (ends ? u.compare(u.size() - x.size(), x.size(), x) == 0 : u.compare(0, x.size(), x) == 0)
                    return Value(true);
            }
            return Value(false);
        });
    }
    if (name == "upper") return m([s](CallArgs&) { return Value(str_upper(s)); });
    if (name == "lower" || name == "casefold") return m([s](CallArgs&) { return Value(str_lower(s)); });
    if (name == "title") return m([s](CallArgs&) { return str_value(py_title(utf8_decode(s))); });
    if (name == "capitalize") return m([s](CallArgs&) { return str_value(py_capitalize(utf8_decode(s))); });
    if (name == "swapcase")
        return m([s](CallArgs&) {
            std::u32string u = utf8_decode(s);
            for (auto& c : u) c = is_upper_cp(c) ? to_lower_cp(c) : to_upper_cp(c);
            return str_value(u);
        });
    if (name == "replace") {
        return m([s](CallArgs& a) {
            std::u32string u = utf8_decode(s);
            std::u32string old = utf8_decode(need_str(arg_at(a, 0, "old"), "replace arg"));
            std::u32string nw = utf8_decode(need_str(arg_at(a, 1, "new"), "replace arg"));
            int64_t count = need_int(arg_at(a, 2, "count", Value(-1)), "count");
            std::u32string out;
            int64_t done = 0;
            if (old.empty()) {
                for (size_t i = 0; i <= u.size(); ++i) {
                    if (count < 0 || done < count) {
                        out += nw;
                        ++done;
                    }
                    if (i < u.size()) out += u[i];
                }
                return str_value(out);
            }
            size_t i = 0;
            while (true) {
                size_t j = (count >= 0 && done >= count) ? std::u32string::npos : u.find(old, i);
                if (j == std::u32string::npos) {
                    out += u.substr(i);
                    break;
                }
                out += u.substr(i, j - i) + nw;
                i = j + old.size();
                ++done;
            }
            return str_value(out);
        });
    }
    if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
        return m([s, name](CallArgs& a) {
            std::u32string sub = utf8_decode(need_str(arg_at(a, 0, "sub"), "argument"));
            size_t off;
            std::u32string u = sub_range(utf8_decode(s), a, 1, off);
            if (name == "count") {
                if (sub.empty()) return Value(static_cast<int64_t>(u.size() + 1));
                int64_t n = 0;
                for (size_t i = u.find(sub); i != std::u32string::npos; i = u.find(sub, i + sub.size())) ++n;
                return Value(n);
            }
            size_t j = (name[0] == 'r') ? u.rfind(sub) : u.find(sub);
            if (j == std::u32string::npos) {
                if (name == "index" || name == "rindex") throw Error("substring not found");
                return Value(-1);
            }
            return Value(static_cast<int64_t>(j + off));
        });
    }
    if (name == "join") {
        return m([s](CallArgs& a) {
            std::string out;
            size_t k = 0;
            for (const auto& item : iterate(arg_at(a, 0, "iterable"))) {
                if (!item.is_string())
                    throw Error("sequence item " + std::to_string(k) + ": expected str instance, " +
                                item.type_name() + " found");
                if (k++) out += s;
                out += item.as_string();
            }
            return Value(out);
        });
    }
    if (name == "format") return m([s](CallArgs& a) { return Value(py_format(s, a)); });
    if (name == "isdigit" || name == "isnumeric" || name == "isdecimal")
        return m([s](CallArgs&) { return Value(all_chars(utf8_decode(s), py_isdigit)); });
    if (name == "isalpha") return m([s](CallArgs&) { return Value(all_chars(utf8_decode(s), py_isalpha)); });
    if (name == "isalnum") return m([s](CallArgs&) { return Value(all_chars(utf8_decode(s), py_isalnum)); });
    if (name == "isspace") return m([s](CallArgs&) { return Value(all_chars(utf8_decode(s), py_isspace)); });
    if (name == "islower" || name == "isupper") {
        bool up = name == "isupper";
        return m([s, up](CallArgs&) {
            bool cased = false;
            for (char32_t c : utf8_decode(s)) {
                if (up ? is_lower_cp(c) : is_upper_cp(c)) return Value(false);
                cased |= up ? is_upper_cp(c) : is_lower_cp(c);
            }
            return Value(cased);
        });
    }
    if (name == "expandtabs") {
        return m([s](CallArgs& a) {
            int64_t tab = need_int(arg_at(a, 0, "tabsize", Value(8)), "tabsize");
            std::u32string out;
            size_t col = 0;
            for (char32_t c : utf8_decode(s)) {
                if (c == '\t') {
                    if (tab > 0) {
                        size_t n = static_cast<size_t>(tab) - col % static_cast<size_t>(tab);
                        out.append(n, U' ');
                        col += n;
                    }
                } else {
                    out += c;
                    col = (c == '\n' || c == '\r') ? 0 : col + 1;
                }
            }
            return str_value(out);
        });
    }
    if (name == "center") return m([s](CallArgs& a) { return pad(utf8_decode(s), a, 0); });
    if (name == "ljust") return m([s](CallArgs& a) { return pad(utf8_decode(s), a, -1); });
    if (name == "rjust") return m([s](CallArgs& a) { return pad(utf8_decode(s), a, 1); });
    if (name == "zfill") {
        return m([s](CallArgs& a) {
            int64_t width = need_int(arg_at(a, 0, "width"), "width");
            std::u32string u = utf8_decode(s);
            if (static_cast<int64_t>(u.size()) >= width) return Value(s);
            size_t fill = static_cast<size_t>(width) - u.size();
            size_t at = (!u.empty() && (u[0] == '+' || u[0] == '-')) ? 1 : 0;
            u.insert(at, std::u32string(fill, U'0'));
            return str_value(u);
        });
    }
    if (name == "partition" || name == "rpartition") {
        bool right = name == "rpartition";
        return m([s, right](CallArgs& a) {
            std::string sep = need_str(arg_at(a, 0, "sep"), "separator");
            if (sep.empty()) throw Error("empty separator");
            size_t j = right ? s.rfind(sep) : s.find(sep);
            if (j == std::string::npos)
                return right ? Value::tuple({Value(""), Value(""), Value(s)})
                             : Value::tuple({Value(s), Value(""), Value("")});
            return Value::tuple({Value(s.substr(0, j)), Value(sep), Value(s.substr(j + sep.size()))});
        });
    }
    if (name == "removeprefix" || name == "removesuffix") {
        bool suffix = name == "removesuffix";
        return m([s, suffix](CallArgs& a) {
            std::string x = need_str(arg_at(a, 0, suffix ? "suffix" : "prefix"), "argument");
            if (!suffix && s.compare(0, x.size(), x) == 0) return Value(s.substr(x.size()));
            if (suffix && !x.empty() && s.size() >= x.size() &&
                s.compare(s.size() - x.size(), x.size(), x) == 0)
                return Value(s.substr(0, s.size() - x.size()));
            return Value(s);
        });
    }
    return no_attribute(self, name);
}

// markupsafe wraps these str methods: string arguments are escaped, string results are Markup.
Value markup_method(const Value& self, const std::string& name) {
    Value plain = string_method(Value(self.as_string()), name);
    static const char* const wrapped[] = {
        "capitalize", "title",  "lower",      "upper",     "replace",    "ljust",    "rjust",
        "lstrip",     "rstrip", "center",     "strip",     "expandtabs", "swapcase", "zfill",
        "split",      "rsplit", "splitlines", "partition", "rpartition", "join",     "format"};
    if (!plain.is_function() || std::find(std::begin(wrapped), std::end(wrapped), name) == std::end(wrapped))
        return plain;
    auto to_markup = [](const Value& v) -> Value {
        if (v.is_string()) return Value::markup(v.as_string());
        if (v.is_list()) {
            std::vector<Value> items;
            for (const auto& x : v.as_list().items)
                items.push_back(x.is_string() ? Value::markup(x.as_string()) : x);
            return v.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
        }
        return v;
    };
    return make_function("Markup." + name, [plain, name, to_markup](CallArgs& a) {
        CallArgs escaped = a;
        for (auto& x : escaped.args) {
            if (x.is_string()) {
                x = escape_value(x);
            } else if (name == "join") {
                std::vector<Value> items;
                for (const auto& item : iterate(x))
                    items.push_back(item.is_string() ? escape_value(item) : item);
                x = Value::list(std::move(items));
            }
        }
        for (auto& kv : escaped.kwargs)
            if (kv.second.is_string()) kv.second = escape_value(kv.second);
        return to_markup(plain.as_function().call(escaped));
    });
}

}  // namespace detail

}  // namespace ember::jinja
