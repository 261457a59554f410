// GPT-2's byte-level alphabet: every byte 0..255 stands for one printable code point
// (printable Latin-1 bytes for themselves, the rest for U+0100..U+0143), so any byte string
// becomes a string of "characters" a BPE vocabulary can hold. Byte-level BPE vocabularies
// (tokenizer.json with a ByteLevel pre-tokenizer: GPT-2, Llama 3, Qwen2) are written in it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ember::byte_level {

// The code point that stands for byte b.
char32_t byte_to_char(uint8_t b);
// The byte a code point stands for, or -1 when cp is not in the alphabet.
int char_to_byte(char32_t cp);

// Bytes -> their byte-level spelling (UTF-8 of the stand-in code points).
std::string encode(std::string_view bytes);
// Byte-level spelling -> bytes; nullopt when some character is outside the alphabet or
// `text` is not valid UTF-8.
std::optional<std::string> decode(std::string_view text);

}  // namespace ember::byte_level
