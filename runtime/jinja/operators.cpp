// Python's arithmetic and membership operators on template values (64-bit integers: an
// overflow is an error instead of silently wrapping; Python would switch to big integers).
#include <cmath>

#include "runtime/jinja/builtins.h"
#include "runtime/jinja/pyformat.h"

namespace ember::jinja {

namespace {

[[noreturn]] void overflow() {
    throw Error("integer overflow (integers beyond 64 bits are not supported)");
}

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
    throw Error("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() +
                "'");
}

bool is_intlike(const Value& v) {
    return v.is_int() || v.is_bool();
}

// Python's float floor division and modulo (float_divmod).
void float_divmod(double vx, double wx, double& floordiv, double& mod, const char* what) {
    if (wx == 0.0) throw Error(std::string(what) + " by zero");
    mod = std::fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod != 0.0) {
        if ((wx < 0) != (mod < 0)) {
            mod += wx;
            div -= 1.0;
        }
    } else {
        mod = std::copysign(0.0, wx);
    }
    if (div != 0.0) {
        floordiv = std::floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
    } else {
        floordiv = std::copysign(0.0, vx / wx);
    }
}

Value repeat(const Value& seq, int64_t n) {
    if (n < 0) n = 0;
    if (seq.is_string()) {
        const std::string& s = seq.as_string();
        if (!s.empty() && static_cast<uint64_t>(n) > (64u << 20) / s.size())
            throw Error("repeated string too large");
        std::string out;
        out.reserve(s.size() * static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) out += s;
        return Value(out);
    }
    const auto& items = seq.as_list().items;
    if (!items.empty() && static_cast<uint64_t>(n) > (16u << 20) / items.size())
        throw Error("repeated list too large");
    std::vector<Value> out;
    for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
    return seq.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b) {
    if (a.is_undefined()) a.fail_undefined();
    if (b.is_undefined()) b.fail_undefined();
    const bool ints = is_intlike(a) && is_intlike(b);
    const bool nums = a.is_number() && b.is_number();
    if (op == "+") {
        if (a.is_string() && b.is_string() &&
            (a.is_markup() || b.is_markup()))  // Markup escapes the plain side
            return Value::markup(escape_value(a).as_string() + escape_value(b).as_string());
        if (ints) {
            int64_t r;
            if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) overflow();
            return Value(r);
        }
        if (nums) return Value(a.as_double() + b.as_double());
        if (a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
        if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
            std::vector<Value> items = a.as_list().items;
            items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
            return a.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
        }
        if (a.is_string()) throw Error("can only concatenate str (not \"" + b.type_name() + "\") to str");
        if (a.is_list() && !a.is_tuple())
            throw Error("can only concatenate list (not \"" + b.type_name() + "\") to list");
        unsupported("+", a, b);
    }
    if (op == "-") {
        if (ints) {
            int64_t r;
            if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) overflow();
            return Value(r);
        }
        if (nums) return Value(a.as_double() - b.as_double());
        unsupported("-", a, b);
    }
    if (op == "*") {
        if (ints) {
            int64_t r;
            if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) overflow();
            return Value(r);
        }
        if (nums) return Value(a.as_double() * b.as_double());
        if ((a.is_string() || a.is_list()) && is_intlike(b)) {
            Value r = repeat(a, b.as_int());
            return a.is_markup() ? Value::markup(r.as_string()) : r;
        }
        if ((b.is_string() || b.is_list()) && is_intlike(a)) {
            Value r = repeat(b, a.as_int());
            return b.is_markup() ? Value::markup(r.as_string()) : r;
        }
        if (a.is_string() || a.is_list() || b.is_string() || b.is_list())
            throw Error("can't multiply sequence by non-int of type '" +
                        (a.is_string() || a.is_list() ? b : a).type_name() + "'");
        unsupported("*", a, b);
    }
    if (op == "/") {
        if (!nums) unsupported("/", a, b);
        if (b.as_double() == 0.0) throw Error(ints ? "division by zero" : "float division by zero");
        return Value(a.as_double() / b.as_double());
    }
    if (op == "//" || op == "%") {
        if (ints) {
            int64_t x = a.as_int(), y = b.as_int();
            if (y == 0) throw Error("integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) overflow();
            int64_t q = x / y, r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) {
                q -= 1;
                r += y;
            }
            return op == "//" ? Value(q) : Value(r);
        }
        if (nums) {
            double fd, md;
            float_divmod(a.as_double(), b.as_double(), fd, md,
                         op == "//" ? "float floor division" : "float modulo");
            return op == "//" ? Value(fd) : Value(md);
        }
        if (op == "%" && a.is_markup()) {  // Markup % args escapes string arguments
            Value args = b;
            if (b.is_tuple()) {
                std::vector<Value> items;
                for (const auto& x : b.as_list().items) items.push_back(x.is_string() ? escape_value(x) : x);
                args = Value::tuple(std::move(items));
            } else if (b.is_string()) {
                args = escape_value(b);
            }
            return Value::markup(py_percent_format(a.as_string(), args));
        }
        if (op == "%" && a.is_string()) return Value(py_percent_format(a.as_string(), b));
        unsupported(op, a, b);
    }
    if (op == "**") {
        if (ints && b.as_int() >= 0) {
            int64_t base = a.as_int(), e = b.as_int(), r = 1;
            while (e > 0) {
                if (e & 1)
                    if (__builtin_mul_overflow(r, base, &r)) overflow();
                e >>= 1;
                if (e && __builtin_mul_overflow(base, base, &base)) overflow();
            }
            return Value(r);
        }
        if (nums) {
            double x = a.as_double(), y = b.as_double();
            if (x == 0.0 && y < 0) throw Error("0.0 cannot be raised to a negative power");
            double r = std::pow(x, y);
            if (std::isinf(r) && std::isfinite(x) && std::isfinite(y))
                throw Error("(34, 'Numerical result out of range')");
            return Value(r);
        }
        unsupported("** or pow()", a, b);
    }
    throw Error("unknown operator '" + op + "'");
}

Value negate(const Value& v) {
    if (v.is_undefined()) v.fail_undefined();
    if (is_intlike(v)) {
        if (v.as_int() == INT64_MIN) overflow();
        return Value(-v.as_int());
    }
    if (v.is_float()) return Value(-v.as_double());
    throw Error("bad operand type for unary -: '" + v.type_name() + "'");
}

Value unary_plus(const Value& v) {
    if (v.is_undefined()) v.fail_undefined();
    if (is_intlike(v)) return Value(v.as_int());
    if (v.is_float()) return v;
    throw Error("bad operand type for unary +: '" + v.type_name() + "'");
}

bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
        case Value::Kind::Undefined:
            return false;  // Jinja's Undefined iterates as empty
        case Value::Kind::String:
            if (!item.is_string()) {
                if (item.is_undefined()) item.fail_undefined();
                throw Error("'in <string>' requires string as left operand, not " + item.type_name());
            }
            return container.as_string().find(item.as_string()) != std::string::npos;
        case Value::Kind::List:
            for (const auto& x : container.as_list().items)
                if (values_equal(x, item)) return true;
            return false;
        case Value::Kind::Dict:
            if ((item.is_list() && !item.is_tuple()) || item.is_dict())
                throw Error("unhashable type: '" + item.type_name() + "'");
            return container.as_dict().find(item) != nullptr;
        default:
            throw Error("argument of type '" + container.type_name() + "' is not iterable");
    }
}

}  // namespace ember::jinja
