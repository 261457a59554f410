// Value: construction from JSON, Python truthiness, str()/repr(), equality and ordering.
#include "runtime/jinja/value.h"

#include <algorithm>

#include "runtime/jinja/pyformat.h"

namespace ember::jinja {

namespace {

std::string located(const std::string& message, SourcePos pos) {
    if (pos.line <= 0) return "chat template error: " + message;
    return "chat template error at line " + std::to_string(pos.line) + ", column " +
           std::to_string(pos.column) + ": " + message;
}

template <typename Json>
Value value_from_json(const Json& j, int level = 0) {
    if (level > Value::kMaxNesting) throw Error("JSON context nested too deeply");
    switch (j.type()) {
        case nlohmann::json::value_t::null:
            return Value::none();
        case nlohmann::json::value_t::boolean:
            return Value(j.template get<bool>());
        case nlohmann::json::value_t::number_integer:
            return Value(j.template get<int64_t>());
        case nlohmann::json::value_t::number_unsigned: {
            auto u = j.template get<uint64_t>();
            if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
            return Value(static_cast<double>(u));
        }
        case nlohmann::json::value_t::number_float:
            return Value(j.template get<double>());
        case nlohmann::json::value_t::string:
            return Value(j.template get<std::string>());
        case nlohmann::json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            for (const auto& e : j) items.push_back(value_from_json(e, level + 1));
            return Value::list(std::move(items));
        }
        case nlohmann::json::value_t::object: {
            auto d = std::make_shared<DictData>();
            d->items.reserve(j.size());
            for (auto it = j.begin(); it != j.end(); ++it)
                d->items.emplace_back(Value(it.key()), value_from_json(it.value(), level + 1));
            return Value(d);
        }
        default:
            throw Error("unsupported JSON value in the template context (binary data)");
    }
}

std::string seq_str(const std::vector<Value>& items, bool tuple) {
    std::string s = tuple ? "(" : "[";
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) s += ", ";
        s += items[i].repr();
    }
    if (tuple && items.size() == 1) s += ",";
    s += tuple ? ")" : "]";
    return s;
}

std::string dict_str(const DictData& d) {
    std::string s = "{";
    for (size_t i = 0; i < d.items.size(); ++i) {
        if (i) s += ", ";
        s += d.items[i].first.repr() + ": " + d.items[i].second.repr();
    }
    return s + "}";
}

}  // namespace

namespace {

[[noreturn]] void too_deep() {
    throw Error("value nesting too deep (more than " + std::to_string(Value::kMaxNesting) + " levels)");
}

}  // namespace

Value::Value(std::shared_ptr<ListData> l) {
    int d = 0;
    for (const auto& item : l->items) d = std::max(d, item.nesting_depth());
    if (d + 1 > kMaxNesting) too_deep();
    l->depth = d + 1;
    v_ = std::move(l);
}

Value::Value(std::shared_ptr<DictData> dict) {
    int d = 0;
    for (const auto& kv : dict->items) d = std::max({d, kv.first.nesting_depth(), kv.second.nesting_depth()});
    if (d + 1 > kMaxNesting) too_deep();
    dict->depth = d + 1;
    v_ = std::move(dict);
}

Value::Value(std::shared_ptr<Object> o) {
    if (o->depth > kMaxNesting) too_deep();
    v_ = std::move(o);
}

int Value::nesting_depth() const {
    switch (kind()) {
        case Kind::List:
            return as_list().depth;
        case Kind::Dict:
            return as_dict().depth;
        case Kind::Object:
            return as_object()->depth;
        default:
            return 0;
    }
}

Error::Error(const std::string& message, SourcePos pos)
    : std::runtime_error(located(message, pos)), message_(message), pos_(pos) {}

Value Value::list(std::vector<Value> items) {
    auto l = std::make_shared<ListData>();
    l->items = std::move(items);
    return Value(l);
}

Value Value::tuple(std::vector<Value> items) {
    auto l = std::make_shared<ListData>();
    l->items = std::move(items);
    l->is_tuple = true;
    return Value(l);
}

Value Value::from_json(const nlohmann::json& j) {
    return value_from_json(j);
}
Value Value::from_json(const nlohmann::ordered_json& j) {
    return value_from_json(j);
}

bool Value::is_tuple() const {
    return is_list() && as_list().is_tuple;
}

int64_t Value::as_int() const {
    if (is_bool()) return as_bool() ? 1 : 0;
    return std::get<int64_t>(v_);
}

double Value::as_double() const {
    if (is_float()) return std::get<double>(v_);
    return static_cast<double>(as_int());
}

bool Value::truthy() const {
    switch (kind()) {
        case Kind::Undefined:
        case Kind::None:
            return false;
        case Kind::Bool:
            return as_bool();
        case Kind::Int:
            return as_int() != 0;
        case Kind::Float:
            return as_double() != 0.0;
        case Kind::String:
            return !as_string().empty();
        case Kind::List:
            return !as_list().items.empty();
        case Kind::Dict:
            return !as_dict().items.empty();
        default:
            return true;
    }
}

std::string Value::type_name() const {
    switch (kind()) {
        case Kind::Undefined:
            return "Undefined";
        case Kind::None:
            return "NoneType";
        case Kind::Bool:
            return "bool";
        case Kind::Int:
            return "int";
        case Kind::Float:
            return "float";
        case Kind::String:
            return "str";
        case Kind::List:
            return is_tuple() ? "tuple" : "list";
        case Kind::Dict:
            return "dict";
        case Kind::Object:
            return as_object()->type_name();
        case Kind::Function:
            return "function";
    }
    return "?";
}

std::string Value::str() const {
    switch (kind()) {
        case Kind::Undefined:
            return "";
        case Kind::None:
            return "None";
        case Kind::Bool:
            return as_bool() ? "True" : "False";
        case Kind::Int:
            return std::to_string(as_int());
        case Kind::Float:
            return py_float_repr(as_double());
        case Kind::String:
            return as_string();
        case Kind::List:
            return seq_str(as_list().items, as_list().is_tuple);
        case Kind::Dict:
            return dict_str(as_dict());
        case Kind::Object:
            return as_object()->repr();
        case Kind::Function:
            return "<function " + as_function().name + ">";
    }
    return "";
}

std::string Value::repr() const {
    if (is_markup()) return "Markup(" + py_str_repr(as_string()) + ")";
    if (is_string()) return py_str_repr(as_string());
    if (is_undefined()) return "Undefined";
    return str();
}

void Value::fail_undefined() const {
    throw Error(undefined_hint());
}

const Value* DictData::find(const Value& key) const {
    for (const auto& kv : items)
        if (values_equal(kv.first, key)) return &kv.second;
    return nullptr;
}

void DictData::set(const Value& key, Value value) {
    for (auto& kv : items)
        if (values_equal(kv.first, key)) {
            kv.second = std::move(value);
            return;
        }
    items.emplace_back(key, std::move(value));
}

bool Object::set_attr(const std::string&, Value) {
    return false;
}

Value Namespace::get_attr(const std::string& name) const {
    if (const Value* v = attrs.find(Value(name))) return *v;
    return Value::undefined("'Namespace object' has no attribute '" + name + "'");
}

std::string Namespace::repr() const {
    // A namespace can hold itself ({% set ns.me = ns %}); Python prints the repeat as {...}.
    static thread_local std::vector<const Namespace*> active;
    if (std::find(active.begin(), active.end(), this) != active.end()) return "<Namespace {...}>";
    active.push_back(this);
    std::string s;
    try {
        s = "<Namespace " + dict_str(attrs) + ">";
    } catch (...) {
        active.pop_back();
        throw;
    }
    active.pop_back();
    return s;
}

bool Namespace::set_attr(const std::string& name, Value value) {
    int d = value.nesting_depth() + 1;
    if (d > Value::kMaxNesting) too_deep();
    depth = std::max(depth, d);
    attrs.set(Value(name), std::move(value));
    return true;
}

Value make_function(std::string name, std::function<Value(CallArgs&)> call) {
    auto f = std::make_shared<Function>();
    f->name = std::move(name);
    f->call = std::move(call);
    return Value(f);
}

bool values_equal(const Value& a, const Value& b) {
    using K = Value::Kind;
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case K::Undefined:
        case K::None:
            return true;
        case K::String:
            return a.as_string() == b.as_string();
        case K::List: {
            const auto& x = a.as_list();
            const auto& y = b.as_list();
            if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
            for (size_t i = 0; i < x.items.size(); ++i)
                if (!values_equal(x.items[i], y.items[i])) return false;
            return true;
        }
        case K::Dict: {
            const auto& x = a.as_dict();
            const auto& y = b.as_dict();
            if (x.items.size() != y.items.size()) return false;
            for (const auto& kv : x.items) {
                const Value* other = y.find(kv.first);
                if (!other || !values_equal(kv.second, *other)) return false;
            }
            return true;
        }
        case K::Object:
            return a.as_object() == b.as_object();
        case K::Function:
            return &a.as_function() == &b.as_function();
        default:
            return false;
    }
}

int values_compare(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) {
            double x = a.as_double(), y = b.as_double();
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        int64_t x = a.as_int(), y = b.as_int();
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a.is_string() && b.is_string()) {
        int c = a.as_string().compare(b.as_string());  // UTF-8 byte order == code point order
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
        const auto& x = a.as_list().items;
        const auto& y = b.as_list().items;
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (values_equal(x[i], y[i])) continue;
            return values_compare(x[i], y[i]);
        }
        return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    if (a.is_undefined()) a.fail_undefined();
    if (b.is_undefined()) b.fail_undefined();
    throw Error("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

}  // namespace ember::jinja
