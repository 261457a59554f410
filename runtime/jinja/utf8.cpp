// UTF-8 decoding/encoding, Python's whitespace and printability classes, simple case mapping.
#include "runtime/jinja/utf8.h"

namespace ember::jinja {

char32_t utf8_next(std::string_view s, size_t& i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    auto cont = [&](size_t k) {
        return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    };
    auto byte = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
    if (b0 < 0x80) {
        i += 1;
        return b0;
    }
    if ((b0 & 0xE0) == 0xC0 && cont(1)) {
        char32_t cp = (static_cast<char32_t>(b0 & 0x1F) << 6) | byte(1);
        i += 2;
        return cp;
    }
    if ((b0 & 0xF0) == 0xE0 && cont(1) && cont(2)) {
        char32_t cp = (static_cast<char32_t>(b0 & 0x0F) << 12) | (byte(1) << 6) | byte(2);
        i += 3;
        return cp;
    }
    if ((b0 & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
        char32_t cp = (static_cast<char32_t>(b0 & 0x07) << 18) | (byte(1) << 12) | (byte(2) << 6) | byte(3);
        i += 4;
        return cp;
    }
    i += 1;  // stray byte
    return b0;
}

void utf8_append(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::u32string utf8_decode(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) out += utf8_next(s, i);
    return out;
}

std::string utf8_encode(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t cp : s) utf8_append(out, cp);
    return out;
}

size_t utf8_length(std::string_view s) {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++n) utf8_next(s, i);
    return n;
}

bool py_isspace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

bool py_isprintable(char32_t c) {
    if (c == ' ') return true;
    if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return false;  // Cc, NBSP, soft hyphen
    if (py_isspace(c)) return false;                                      // Zs, Zl, Zp
    if ((c >= 0x600 && c <= 0x605) || c == 0x61C || c == 0x6DD || c == 0x70F || c == 0x180E) return false;
    if ((c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E)) return false;
    if ((c >= 0x2060 && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB)) return false;
    if ((c >= 0xD800 && c <= 0xF8FF)) return false;  // surrogates, private use
    if (c == 0xFFFE || c == 0xFFFF || c >= 0xE0000) return false;
    return true;
}

namespace {

// Latin Extended-A: which code points in [0x100, 0x17F] are the upper case of a pair.
bool latin_ext_a_upper(char32_t c) {
    if (c >= 0x139 && c <= 0x148) return c % 2 == 1;
    if (c >= 0x179 && c <= 0x17E) return c % 2 == 1;
    if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return false;
    if (c == 0x178) return true;
    return c % 2 == 0;
}

bool in_latin_ext_a_pairs(char32_t c) {
    return c >= 0x100 && c <= 0x17E && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x178;
}

}  // namespace

bool is_upper_cp(char32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z';
    if (c >= 0xC0 && c <= 0xDE) return c != 0xD7;
    if (c == 0x178 || c == 0x130) return true;
    if (in_latin_ext_a_pairs(c)) return latin_ext_a_upper(c);
    if (c >= 0x391 && c <= 0x3A9) return c != 0x3A2;
    if (c == 0x386 || (c >= 0x388 && c <= 0x38A) || c == 0x38C || c == 0x38E || c == 0x38F) return true;
    if (c >= 0x400 && c <= 0x42F) return true;
    if (c >= 0x460 && c <= 0x4FF) return c % 2 == 0 && !(c >= 0x482 && c <= 0x489) && c != 0x4C0;
    if (c >= 0xFF21 && c <= 0xFF3A) return true;
    return false;
}

bool is_lower_cp(char32_t c) {
    if (c < 0x80) return c >= 'a' && c <= 'z';
    if (c == 0xB5 || c == 0xDF) return true;
    if (c >= 0xE0 && c <= 0xFF) return c != 0xF7;
    if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return true;
    if (in_latin_ext_a_pairs(c)) return !latin_ext_a_upper(c);
    if (c >= 0x3AC && c <= 0x3CE) return true;
    if (c == 0x390) return true;
    if (c >= 0x430 && c <= 0x45F) return true;
    if (c >= 0x460 && c <= 0x4FF) return c % 2 == 1 && !(c >= 0x482 && c <= 0x489) && c != 0x4C0;
    if (c >= 0xFF41 && c <= 0xFF5A) return true;
    return false;
}

char32_t to_upper_cp(char32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
    if (c == 0xB5) return 0x39C;
    if (c == 0xFF) return 0x178;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 0x20;
    if (c == 0x131) return 'I';
    if (c == 0x17F) return 'S';
    if (in_latin_ext_a_pairs(c)) {
        if (latin_ext_a_upper(c)) return c;
        return c - 1;
    }
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x3B1 && c <= 0x3C9) return c - 0x20;
    if (c == 0x3AC) return 0x386;
    if (c >= 0x3AD && c <= 0x3AF) return c - 0x25;
    if (c == 0x3CC) return 0x38C;
    if (c == 0x3CD || c == 0x3CE) return c - 0x3F;
    if (c >= 0x430 && c <= 0x44F) return c - 0x20;
    if (c >= 0x450 && c <= 0x45F) return c - 0x50;
    if (is_lower_cp(c) && c >= 0x460 && c <= 0x4FF) return c - 1;
    if (c >= 0xFF41 && c <= 0xFF5A) return c - 0x20;
    return c;
}

char32_t to_lower_cp(char32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
    if (c == 0x178) return 0xFF;
    if (c == 0x130) return 'i';  // Python gives "i̇" (two code points); close enough
    if (in_latin_ext_a_pairs(c)) {
        if (!latin_ext_a_upper(c)) return c;
        return c + 1;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 0x25;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 0x3F;
    if (c >= 0x410 && c <= 0x42F) return c + 0x20;
    if (c >= 0x400 && c <= 0x40F) return c + 0x50;
    if (is_upper_cp(c) && c >= 0x460 && c <= 0x4FF) return c + 1;
    if (c >= 0xFF21 && c <= 0xFF3A) return c + 0x20;
    return c;
}

bool py_isdigit(char32_t c) {
    return (c >= '0' && c <= '9') || (c >= 0xFF10 && c <= 0xFF19);
}

bool py_isalpha(char32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (is_upper_cp(c) || is_lower_cp(c)) return true;
    if (c == 0xAA || c == 0xBA) return true;
    if (c >= 0x180 && c <= 0x24F) return true;                   // Latin Extended-B
    if (c >= 0x4E00 && c <= 0x9FFF) return true;                 // CJK ideographs
    if (c >= 0x3041 && c <= 0x30FF && c != 0x30FB) return true;  // kana
    if (c >= 0xAC00 && c <= 0xD7A3) return true;                 // Hangul syllables
    if (c >= 0x5D0 && c <= 0x5EA) return true;                   // Hebrew
    if (c >= 0x621 && c <= 0x64A) return true;                   // Arabic
    return false;
}

bool py_isalnum(char32_t c) {
    return py_isalpha(c) || py_isdigit(c);
}

std::string str_upper(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        char32_t c = utf8_next(s, i);
        if (c == 0xDF) {
            out += "SS";  // Python: 'ß'.upper() == 'SS'
            continue;
        }
        utf8_append(out, to_upper_cp(c));
    }
    return out;
}

std::string str_lower(std::string_view s) {
    std::u32string u = utf8_decode(s);
    std::string out;
    out.reserve(s.size());
    auto cased = [](char32_t c) { return is_upper_cp(c) || is_lower_cp(c); };
    for (size_t i = 0; i < u.size(); ++i) {
        if (u[i] == 0x3A3) {  // Python's Final_Sigma: a word-final capital sigma becomes ς
            bool after_cased = i > 0 && cased(u[i - 1]);
            bool before_cased = i + 1 < u.size() && cased(u[i + 1]);
            utf8_append(out, after_cased && !before_cased ? 0x3C2 : 0x3C3);
            continue;
        }
        utf8_append(out, to_lower_cp(u[i]));
    }
    return out;
}

std::string py_strip(std::string_view s, bool left, bool right, const std::string* chars) {
    std::u32string u = utf8_decode(s);
    std::u32string set;
    if (chars) set = utf8_decode(*chars);
    auto strip_me = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : py_isspace(c); };
    size_t b = 0, e = u.size();
    if (left)
        while (b < e && strip_me(u[b])) ++b;
    if (right)
        while (e > b && strip_me(u[e - 1])) --e;
    return utf8_encode(std::u32string_view(u).substr(b, e - b));
}

}  // namespace ember::jinja
