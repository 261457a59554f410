// UTF-8 helpers for the template interpreter: Python strings are sequences of code points,
// so length, indexing, slicing and case mapping work on code points, not bytes.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ember::jinja {

// Decodes one code point at s[i] and advances i. Invalid bytes decode as themselves
// (Latin-1), so no input is rejected.
char32_t utf8_next(std::string_view s, size_t& i);
void utf8_append(std::string& out, char32_t cp);
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
size_t utf8_length(std::string_view s);  // code points

// Python's str.isspace() (also what `\s` matches in Python regular expressions).
bool py_isspace(char32_t cp);
// Python's str.isprintable() for one code point (approximate outside common ranges).
bool py_isprintable(char32_t cp);
bool py_isalpha(char32_t cp);
bool py_isdigit(char32_t cp);
bool py_isalnum(char32_t cp);

// Simple (one-to-one) case mapping: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic.
// Other code points are returned unchanged.
char32_t to_upper_cp(char32_t cp);
char32_t to_lower_cp(char32_t cp);
bool is_upper_cp(char32_t cp);
bool is_lower_cp(char32_t cp);
std::string str_upper(std::string_view s);
std::string str_lower(std::string_view s);

// Python str.strip/lstrip/rstrip: `chars` empty-and-not-given strips whitespace.
std::string py_strip(std::string_view s, bool left, bool right, const std::string* chars = nullptr);

}  // namespace ember::jinja
