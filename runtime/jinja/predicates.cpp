// Jinja's tests (jinja2/tests.py): `x is defined`, `x is string`, `x is divisibleby 3`, ...
#include <unordered_map>

#include "runtime/jinja/builtins.h"
#include "runtime/jinja/utf8.h"

namespace ember::jinja {

namespace {

using TestFn = bool (*)(const Value&, CallArgs&);

bool t_defined(const Value& v, CallArgs&) {
    return !v.is_undefined();
}
bool t_undefined(const Value& v, CallArgs&) {
    return v.is_undefined();
}
bool t_none(const Value& v, CallArgs&) {
    return v.is_none();
}
bool t_boolean(const Value& v, CallArgs&) {
    return v.is_bool();
}
bool t_true(const Value& v, CallArgs&) {
    return v.is_bool() && v.as_bool();
}
bool t_false(const Value& v, CallArgs&) {
    return v.is_bool() && !v.as_bool();
}
bool t_integer(const Value& v, CallArgs&) {
    return v.is_int();
}
bool t_float(const Value& v, CallArgs&) {
    return v.is_float();
}
bool t_number(const Value& v, CallArgs&) {
    return v.is_number();
}
bool t_string(const Value& v, CallArgs&) {
    return v.is_string();
}
bool t_mapping(const Value& v, CallArgs&) {
    return v.is_dict();
}
bool t_iterable(const Value& v, CallArgs&) {
    return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
}
bool t_sequence(const Value& v, CallArgs&) {
    return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
}
bool t_callable(const Value& v, CallArgs&) {
    return v.is_function();
}
bool t_escaped(const Value& v, CallArgs&) {
    return v.is_markup();
}
bool t_odd(const Value& v, CallArgs&) {
    return values_equal(binary_op("%", v, Value(2)), Value(1));
}
bool t_even(const Value& v, CallArgs&) {
    return values_equal(binary_op("%", v, Value(2)), Value(0));
}
bool t_divisibleby(const Value& v, CallArgs& a) {
    Value r = binary_op("%", v, arg_at(a, 0, "num"));
    return r.as_double() == 0.0;
}
bool t_lower(const Value& v, CallArgs&) {
    CallArgs none;
    return get_attr(Value(v.str()), "islower").as_function().call(none).as_bool();
}
bool t_upper(const Value& v, CallArgs&) {
    CallArgs none;
    return get_attr(Value(v.str()), "isupper").as_function().call(none).as_bool();
}
bool t_eq(const Value& v, CallArgs& a) {
    return values_equal(v, arg_at(a, 0, "other"));
}
bool t_ne(const Value& v, CallArgs& a) {
    return !values_equal(v, arg_at(a, 0, "other"));
}
bool t_lt(const Value& v, CallArgs& a) {
    return values_compare(v, arg_at(a, 0, "other")) < 0;
}
bool t_le(const Value& v, CallArgs& a) {
    return values_compare(v, arg_at(a, 0, "other")) <= 0;
}
bool t_gt(const Value& v, CallArgs& a) {
    return values_compare(v, arg_at(a, 0, "other")) > 0;
}
bool t_ge(const Value& v, CallArgs& a) {
    return values_compare(v, arg_at(a, 0, "other")) >= 0;
}
bool t_in(const Value& v, CallArgs& a) {
    return contains(arg_at(a, 0, "seq"), v);
}
bool t_sameas(const Value& v, CallArgs& a) {
    Value o = arg_at(a, 0, "other");
    if (v.kind() != o.kind()) return false;
    switch (v.kind()) {
        case Value::Kind::List:
            return &v.as_list() == &o.as_list();
        case Value::Kind::Dict:
            return &v.as_dict() == &o.as_dict();
        case Value::Kind::Object:
            return v.as_object() == o.as_object();
        case Value::Kind::Function:
            return &v.as_function() == &o.as_function();
        default:
            return values_equal(v, o);
    }
}
bool t_filter(const Value& v, CallArgs&) {
    return v.is_string() && is_known_filter(v.as_string());
}
bool t_test(const Value& v, CallArgs&) {
    return v.is_string() && is_known_test(v.as_string());
}

const std::unordered_map<std::string, TestFn>& tests() {
    static const std::unordered_map<std::string, TestFn> table = {
        {"boolean", t_boolean},
        {"callable", t_callable},
        {"defined", t_defined},
        {"divisibleby", t_divisibleby},
        {"eq", t_eq},
        {"equalto", t_eq},
        {"==", t_eq},
        {"escaped", t_escaped},
        {"even", t_even},
        {"false", t_false},
        {"filter", t_filter},
        {"float", t_float},
        {"ge", t_ge},
        {">=", t_ge},
        {"gt", t_gt},
        {"greaterthan", t_gt},
        {">", t_gt},
        {"in", t_in},
        {"integer", t_integer},
        {"iterable", t_iterable},
        {"le", t_le},
        {"<=", t_le},
        {"lower", t_lower},
        {"lt", t_lt},
        {"lessthan", t_lt},
        {"<", t_lt},
        {"mapping", t_mapping},
        {"ne", t_ne},
        {"!=", t_ne},
        {"none", t_none},
        {"number", t_number},
        {"odd", t_odd},
        {"sameas", t_sameas},
        {"sequence", t_sequence},
        {"string", t_string},
        {"test", t_test},
        {"true", t_true},
        {"undefined", t_undefined},
        {"upper", t_upper},
    };
    return table;
}

}  // namespace

bool is_known_test(const std::string& name) {
    return tests().count(name) > 0;
}

bool is_unsupported_jinja_test(const std::string&) {
    return false;
}

bool apply_test(const std::string& name, const Value& value, CallArgs& args) {
    auto it = tests().find(name);
    if (it == tests().end()) throw Error("No test named '" + name + "'");
    return it->second(value, args);
}

}  // namespace ember::jinja
