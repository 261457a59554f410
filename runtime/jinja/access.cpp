// Attribute and item access as Jinja's sandbox does it (getattr then item for `a.b`, item then
// getattr for `a[b]`), slicing, iteration, len(), and the dict and list methods.
#include <algorithm>

#include "runtime/jinja/builtins.h"
#include "runtime/jinja/helpers.h"
#include "runtime/jinja/utf8.h"

namespace ember::jinja {

namespace detail {

std::string object_desc(const Value& v) {
    if (v.is_none()) return "None";
    return v.type_name() + " object";
}

Value no_attribute(const Value& obj, const std::string& name) {
    return Value::undefined(
        std::string("'").append(object_desc(obj)).append("' has no attribute '").append(name) + "'");
}

Value unsafe(const Value& obj, const std::string& name) {
    return Value::undefined("access to attribute '" + name + "' of '" + obj.type_name() +
                            "' object is unsafe (templates may not modify values).");
}

const std::string& need_str(const Value& v, const char* what) {
    if (!v.is_string()) {
        if (v.is_undefined()) v.fail_undefined();
        throw Error(std::string(what) + " must be str, not " + v.type_name());
    }
    return v.as_string();
}

int64_t need_int(const Value& v, const char* what) {
    if (v.is_int() || v.is_bool()) return v.as_int();
    if (v.is_undefined()) v.fail_undefined();
    throw Error(std::string(what) + ": '" + v.type_name() + "' object cannot be interpreted as an integer");
}

std::u32string u32(const Value& v) {
    return utf8_decode(v.as_string());
}
Value str_value(const std::u32string& s) {
    return Value(utf8_encode(s));
}

// Python's slice.indices(len) for a step != 0.
void slice_indices(int64_t len, const Value& vstart, const Value& vstop, int64_t step, int64_t& start,
                   int64_t& stop) {
    auto clamp = [&](const Value& v, int64_t def, bool is_start) {
        if (v.is_none() || v.is_undefined()) return def;
        int64_t x = need_int(v, "slice indices");
        if (x < 0) {
            x += len;
            if (x < 0) x = step < 0 ? -1 : 0;
        } else if (x >= len) {
            x = step < 0 ? len - 1 : len;
        }
        (void)is_start;
        return x;
    };
    start = clamp(vstart, step < 0 ? len - 1 : 0, true);
    stop = clamp(vstop, step < 0 ? -1 : len, false);
}

}  // namespace detail

using namespace detail;

namespace {

template <typename Seq>
Seq slice_seq(const Seq& s, const Value& a, const Value& b, const Value& c) {
    int64_t step = (c.is_none() || c.is_undefined()) ? 1 : need_int(c, "slice indices");
    if (step == 0) throw Error("slice step cannot be zero");
    int64_t start, stop;
    slice_indices(static_cast<int64_t>(s.size()), a, b, step, start, stop);
    Seq out;
    if (step > 0)
        for (int64_t i = start; i < stop; i += step) out.push_back(s[static_cast<size_t>(i)]);
    else
        for (int64_t i = start; i > stop; i += step) out.push_back(s[static_cast<size_t>(i)]);
    return out;
}

Value dict_method(const Value& self, const std::string& name) {
    auto m = [&](std::function<Value(CallArgs&)> f) { return make_function("dict." + name, std::move(f)); };
    if (name == "get")
        return m([self](CallArgs& a) {
            const Value* v = self.as_dict().find(arg_at(a, 0, "key"));
            return v ? *v : arg_at(a, 1, "default", Value::none());
        });
    if (name == "items")
        return m([self](CallArgs&) {
            std::vector<Value> items;
            for (const auto& kv : self.as_dict().items) items.push_back(Value::tuple({kv.first, kv.second}));
            return Value::list(std::move(items));
        });
    if (name == "keys")
        return m([self](CallArgs&) {
            std::vector<Value> items;
            for (const auto& kv : self.as_dict().items) items.push_back(kv.first);
            return Value::list(std::move(items));
        });
    if (name == "values")
        return m([self](CallArgs&) {
            std::vector<Value> items;
            for (const auto& kv : self.as_dict().items) items.push_back(kv.second);
            return Value::list(std::move(items));
        });
    if (name == "copy")
        return m([self](CallArgs&) { return Value(std::make_shared<DictData>(self.as_dict())); });
    if (name == "pop" || name == "popitem" || name == "setdefault" || name == "update" || name == "clear")
        return unsafe(self, name);
    return Value::undefined();  // not a method: the caller falls back to item lookup
}

Value list_method(const Value& self, const std::string& name) {
    auto m = [&](std::function<Value(CallArgs&)> f) { return make_function("list." + name, std::move(f)); };
    if (name == "index")
        return m([self](CallArgs& a) {
            Value x = arg_at(a, 0, "value");
            const auto& items = self.as_list().items;
            for (size_t i = 0; i < items.size(); ++i)
                if (values_equal(items[i], x)) return Value(static_cast<int64_t>(i));
            throw Error(x.repr() + " is not in list");
        });
    if (name == "count")
        return m([self](CallArgs& a) {
            Value x = arg_at(a, 0, "value");
            int64_t n = 0;
            for (const auto& item : self.as_list().items) n += values_equal(item, x) ? 1 : 0;
            return Value(n);
        });
    if (name == "copy") return m([self](CallArgs&) { return Value::list(self.as_list().items); });
    if (!self.is_tuple() && (name == "append" || name == "extend" || name == "insert" || name == "pop" ||
                             name == "remove" || name == "reverse" || name == "sort" || name == "clear"))
        return unsafe(self, name);
    return no_attribute(self, name);
}

}  // namespace

Value arg_at(const CallArgs& args, size_t i, const char* name, const Value& def) {
    if (i < args.args.size()) return args.args[i];
    for (const auto& kv : args.kwargs)
        if (kv.first == name) return kv.second;
    return def;
}

int64_t py_len(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined:
            return 0;
        case Value::Kind::String:
            return static_cast<int64_t>(utf8_length(v.as_string()));
        case Value::Kind::List:
            return static_cast<int64_t>(v.as_list().items.size());
        case Value::Kind::Dict:
            return static_cast<int64_t>(v.as_dict().items.size());
        default:
            throw Error("object of type '" + v.type_name() + "' has no len()");
    }
}

std::vector<Value> iterate(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined:
            return {};
        case Value::Kind::List:
            return v.as_list().items;
        case Value::Kind::Dict: {
            std::vector<Value> keys;
            for (const auto& kv : v.as_dict().items) keys.push_back(kv.first);
            return keys;
        }
        case Value::Kind::String: {
            std::vector<Value> chars;
            const std::string& s = v.as_string();
            for (size_t i = 0; i < s.size();) {
                size_t start = i;
                utf8_next(s, i);
                chars.emplace_back(s.substr(start, i - start));
            }
            return chars;
        }
        default:
            throw Error("'" + v.type_name() + "' object is not iterable");
    }
}

Value get_attr(const Value& obj, const std::string& name) {
    if (obj.is_undefined()) obj.fail_undefined();
    if (!name.empty() && name[0] == '_') return no_attribute(obj, name);  // sandbox: no private attributes
    if (obj.is_markup()) return markup_method(obj, name);
    switch (obj.kind()) {
        case Value::Kind::String:
            return string_method(obj, name);
        case Value::Kind::List:
            return list_method(obj, name);
        case Value::Kind::Dict: {
            Value m = dict_method(obj, name);
            if (!m.is_undefined() || m.undefined_hint().find("unsafe") != std::string::npos) return m;
            if (const Value* v = obj.as_dict().find(Value(name))) return *v;
            return no_attribute(obj, name);
        }
        case Value::Kind::Object:
            return obj.as_object()->get_attr(name);
        default:
            return no_attribute(obj, name);
    }
}

Value get_python_attr(const Value& obj, const std::string& name) {
    if (obj.is_dict()) {
        Value m = dict_method(obj, name);
        if (m.is_undefined() && m.undefined_hint().find("unsafe") == std::string::npos)
            return no_attribute(obj, name);
        return m;
    }
    return get_attr(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
    if (obj.is_undefined()) obj.fail_undefined();
    auto no_element = [&]() {
        if (key.is_string()) return no_attribute(obj, key.as_string());
        return Value::undefined(std::string(object_desc(obj)).append(" has no element ").append(key.repr()));
    };
    switch (obj.kind()) {
        case Value::Kind::Dict: {
            if (const Value* v = obj.as_dict().find(key)) return *v;
            if (key.is_string()) {
                Value m = dict_method(obj, key.as_string());
                if (!m.is_undefined()) return m;
            }
            return no_element();
        }
        case Value::Kind::List:
        case Value::Kind::String: {
            if (!(key.is_int() || key.is_bool())) {
                if (key.is_string()) return get_attr(obj, key.as_string());
                return no_element();
            }
            int64_t i = key.as_int();
            if (obj.is_list()) {
                const auto& items = obj.as_list().items;
                int64_t n = static_cast<int64_t>(items.size());
                if (i < 0) i += n;
                if (i < 0 || i >= n) return no_element();
                return items[static_cast<size_t>(i)];
            }
            std::u32string u = utf8_decode(obj.as_string());
            int64_t n = static_cast<int64_t>(u.size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) return no_element();
            Value ch = str_value(u.substr(static_cast<size_t>(i), 1));
            return obj.is_markup() ? Value::markup(ch.as_string()) : ch;
        }
        case Value::Kind::Object:
            if (key.is_string()) return obj.as_object()->get_attr(key.as_string());
            return no_element();
        default:
            if (key.is_string()) return no_attribute(obj, key.as_string());
            return no_element();
    }
}

Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step) {
    if (obj.is_undefined()) obj.fail_undefined();
    if (obj.is_list()) {
        auto items = slice_seq(obj.as_list().items, start, stop, step);
        return obj.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
    if (obj.is_string()) {
        Value sliced = str_value(slice_seq(utf8_decode(obj.as_string()), start, stop, step));
        return obj.is_markup() ? Value::markup(sliced.as_string()) : sliced;
    }
    if (obj.is_dict()) throw Error("unhashable type: 'slice'");
    return Value::undefined(std::string("'").append(object_desc(obj)).append("' cannot be sliced"));
}

}  // namespace ember::jinja
