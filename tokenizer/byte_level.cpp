// The byte <-> code point table of GPT-2's bytes_to_unicode(), built once.
#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace ember::byte_level {
namespace {

struct Table {
    std::array<char32_t, 256> to_char{};
    std::array<int16_t, 0x144> to_byte{};  // stand-ins are all below U+0144
    Table() {
        to_byte.fill(-1);
        // Printable bytes stand for themselves: '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF.
        auto printable = [](int b) {
            return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        };
        int next = 0;
        for (int b = 0; b < 256; ++b) {
            const char32_t c = printable(b) ? char32_t(b) : char32_t(0x100 + next++);
            to_char[size_t(b)] = c;
            to_byte[size_t(c)] = int16_t(b);
        }
    }
};

const Table& table() {
    static const Table t;
    return t;
}

}  // namespace

char32_t byte_to_char(uint8_t b) {
    return table().to_char[b];
}

int char_to_byte(char32_t cp) {
    return cp < table().to_byte.size() ? table().to_byte[cp] : -1;
}

std::string encode(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) utf8::append(out, byte_to_char(b));
    return out;
}

std::optional<std::string> decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        char32_t cp;
        size_t bad;
        const size_t len = utf8::decode(text, i, cp, bad);
        if (len == 0) return std::nullopt;
        const int b = char_to_byte(cp);
        if (b < 0) return std::nullopt;
        out += char(b);
        i += len;
    }
    return out;
}

}  // namespace ember::byte_level
