// What templates can call: Jinja's builtin filters (filters.cpp) and tests (predicates.cpp),
// attribute/item access with Python's str/dict/list methods (access.cpp, str_methods.cpp),
// str.format and % formatting (format.cpp), operators (operators.cpp), and the globals
// (globals.cpp): range, dict, namespace, cycler, joiner, raise_exception, strftime_now.
#pragma once
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/jinja/value.h"

namespace ember::jinja {

// ---- filters and tests ----
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);
// Jinja builtins this interpreter leaves out (their use is reported as unsupported, not unknown).
bool is_unsupported_jinja_filter(const std::string& name);
bool is_unsupported_jinja_test(const std::string& name);

// `value | name(args...)`. Throws Error with a Python-like message on bad input.
Value apply_filter(const std::string& name, const Value& value, CallArgs& args);
// `value is name(args...)`.
bool apply_test(const std::string& name, const Value& value, CallArgs& args);

// markupsafe: html_escape of & < > " ' ; escape_value keeps Markup and escapes the rest into Markup.
std::string html_escape(std::string_view s);
Value escape_value(const Value& v);

// ---- access ----
// obj.name: attributes first (methods of str/dict/list, object attributes), then items.
Value get_attr(const Value& obj, const std::string& name);
// Python's getattr(obj, name) only (the attr filter): methods and object attributes, no items.
Value get_python_attr(const Value& obj, const std::string& name);
// obj[key]: items first, then attributes. Missing keys/indexes give Undefined.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] on lists, tuples and strings (none = omitted bound).
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);
// Iteration as Python's iter(): list items, dict keys, string characters; Undefined is empty.
std::vector<Value> iterate(const Value& v);
// Python's len(); throws for values without a length.
int64_t py_len(const Value& v);
// Argument access for builtins: positional index `i`, else keyword `name`, else `def`.
Value arg_at(const CallArgs& args, size_t i, const char* name, const Value& def = Value::undefined());

// ---- formatting and operators ----
// Python str.format / printf-style % with the given arguments.
std::string py_format(const std::string& fmt, const CallArgs& args);
std::string py_percent_format(const std::string& fmt, const Value& args);

// Python arithmetic: op is one of + - * / // % **. Undefined operands raise their UndefinedError.
Value binary_op(const std::string& op, const Value& a, const Value& b);
Value negate(const Value& v);
Value unary_plus(const Value& v);
// `item in container` (str in str, item in list, key in dict; in Undefined is false).
bool contains(const Value& container, const Value& item);

// ---- globals ----
// The global functions of a render; `now` is the local time strftime_now formats. Every
// namespace() object is recorded in `namespaces`, so the render can break reference cycles
// ({% set ns.self = ns %}) when it ends.
using NamespaceRegistry = std::vector<std::weak_ptr<Namespace>>;
void add_globals(DictData& globals, const std::tm& now, const std::shared_ptr<NamespaceRegistry>& namespaces);

}  // namespace ember::jinja
