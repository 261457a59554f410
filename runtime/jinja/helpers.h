// Internal helpers shared by the builtin implementations (access.cpp, str_methods.cpp,
// filters.cpp, globals.cpp); not part of the interpreter's interface.
#pragma once
#include <cstdint>
#include <string>

#include "runtime/jinja/value.h"

namespace ember::jinja::detail {

// Argument checks with Python-like TypeErrors ("<what> must be str, not int").
const std::string& need_str(const Value& v, const char* what);
int64_t need_int(const Value& v, const char* what);

// Jinja's Undefined for a missing attribute: "'dict object' has no attribute 'x'".
std::string object_desc(const Value& v);
Value no_attribute(const Value& obj, const std::string& name);
// An Undefined that raises when used: the sandbox's answer to methods that would mutate.
Value unsafe(const Value& obj, const std::string& name);

std::u32string u32(const Value& v);
Value str_value(const std::u32string& s);

// Python's slice.indices(len) for step != 0: clamps start and stop (None = default).
void slice_indices(int64_t len, const Value& vstart, const Value& vstop, int64_t step, int64_t& start,
                   int64_t& stop);

// str.<name> bound to `self` (a Function), or Undefined when str has no such method.
Value string_method(const Value& self, const std::string& name);
// The same for a Markup string.
Value markup_method(const Value& self, const std::string& name);

}  // namespace ember::jinja::detail
