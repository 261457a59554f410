// UTF-8 helpers shared by the tokenizers: strict decoding (Unicode Table 3-7 well-formed
// sequences only: no overlongs, no surrogates, nothing above U+10FFFF), validation with the
// offset of the first bad byte, and lossy repair with U+FFFD per maximal ill-formed subpart
// (the substitution Rust's String::from_utf8_lossy, browsers and HF tokenizers use).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ember::utf8 {

inline constexpr std::size_t npos = std::string_view::npos;

// Decodes the sequence starting at s[i]. Returns its length (1-4) and sets cp; on an
// ill-formed sequence returns 0 and sets `bad` to the length of its maximal subpart (>= 1):
// the bytes one U+FFFD replaces.
inline std::size_t decode(std::string_view s, std::size_t i, char32_t& cp, std::size_t& bad) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c0 = b(i);
    bad = 1;
    if (c0 < 0x80) {
        cp = c0;
        return 1;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c0 >= 0xC2 && c0 <= 0xDF) {
        len = 2;
        cp = c0 & 0x1F;
    } else if (c0 >= 0xE0 && c0 <= 0xEF) {
        len = 3;
        cp = c0 & 0x0F;
        if (c0 == 0xE0) lo = 0xA0;
        if (c0 == 0xED) hi = 0x9F;
    } else if (c0 >= 0xF0 && c0 <= 0xF4) {
        len = 4;
        cp = c0 & 0x07;
        if (c0 == 0xF0) lo = 0x90;
        if (c0 == 0xF4) hi = 0x8F;
    } else {
        return 0;  // 80..C1, F5..FF: never a lead byte
    }
    for (std::size_t k = 1; k < len; ++k) {
        if (i + k >= s.size()) return 0;
        const unsigned char ck = b(i + k);
        if (k == 1 ? (ck < lo || ck > hi) : (ck < 0x80 || ck > 0xBF)) return 0;
        cp = (cp << 6) | (ck & 0x3F);
        bad = k + 1;
    }
    return len;
}

// Byte offset of the first ill-formed sequence, or npos when s is valid UTF-8.
inline std::size_t find_invalid(std::string_view s) {
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        // ASCII fast path, 8 bytes at a time.
        while (i + 8 <= n) {
            uint64_t w;
            __builtin_memcpy(&w, s.data() + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        char32_t cp;
        std::size_t bad;
        const std::size_t len = decode(s, i, cp, bad);
        if (len == 0) return i;
        i += len;
    }
    return npos;
}

inline void append(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

// s with every maximal ill-formed subpart replaced by U+FFFD; valid input is returned as is.
inline std::string repair(std::string s) {
    if (find_invalid(s) == npos) return s;
    std::string out;
    out.reserve(s.size() + 8);
    std::size_t i = 0;
    while (i < s.size()) {
        char32_t cp;
        std::size_t bad;
        const std::size_t len = decode(s, i, cp, bad);
        if (len) {
            out.append(s, i, len);
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            i += bad;
        }
    }
    return out;
}

}  // namespace ember::utf8
