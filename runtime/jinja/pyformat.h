// Python-compatible text forms: float repr, str repr, and json.dumps (as HF's tojson filter
// calls it: ensure_ascii=False, separators ", " / ": ", key order kept).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "runtime/jinja/value.h"

namespace ember::jinja {

// repr(float): shortest round-trip digits; fixed notation for 1e-4 <= |x| < 1e16, else
// exponent form ("1e-05", "1.5e+16"); "inf", "nan".
std::string py_float_repr(double x);
// repr(str): single quotes unless the text has ' and no ", escapes as Python does.
std::string py_str_repr(std::string_view s);

struct JsonOptions {
    std::optional<std::string> indent;  // json.dumps(indent=...): spaces or a string; none = one line
    std::string item_separator = ", ";  // json.dumps default; ",\n" style when indent is set
    std::string key_separator = ": ";
    bool sort_keys = false;
    bool ensure_ascii = false;
};

// json.dumps(value, ...). Throws Error for values JSON cannot hold (Undefined, functions, objects).
std::string json_dumps(const Value& v, const JsonOptions& opts);

}  // namespace ember::jinja
