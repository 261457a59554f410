// PCRE2-backed regexes with Oniguruma semantics, and the tokenizer.json pre-tokenizers.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace ember {
namespace {

// Oniguruma's Unicode \s: White_Space (U+0009..U+000D, U+0020, U+0085, Zs, Zl, Zp). PCRE2's
// UCP \s adds U+180E, which stopped being a space in Unicode 6.3.
constexpr std::string_view kSpaceItems =
    "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{"
    "3000}";
// Oniguruma's Unicode \w: Alphabetic | Mark | Decimal_Number | Connector_Punctuation, plus
// the Latin-1 digits ² ³ ¹ ¼ ½ ¾ (checked code point by code point against Oniguruma 6.9.8).
constexpr std::string_view kWordItems =
    "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}";
// Oniguruma's \h: a hexadecimal digit (PCRE2's \h is horizontal space).
constexpr std::string_view kHexItems = "0-9A-Fa-f";

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

std::string onig_to_pcre2(std::string_view p) {
    std::string out;
    out.reserve(p.size() + 64);
    bool in_class = false;
    size_t i = 0;
    auto fail = [&](const std::string& why) {
        throw TokenizerError("regex '" + std::string(p) + "': " + why + " at offset " + std::to_string(i));
    };
    while (i < p.size()) {
        const char c = p[i];
        if (c == '\\') {
            if (i + 1 >= p.size()) fail("trailing backslash");
            const char e = p[i + 1];
            auto item = [&](std::string_view items, bool negated) {
                if (!in_class) {
                    out += negated ? "[^" : "[";
                    out += items;
                    out += ']';
                } else if (!negated) {
                    out += items;
                } else {
                    // A negated shorthand inside a class cannot be spliced; keep PCRE2's own.
                    out += '\\';
                    out += e;
                }
            };
            switch (e) {
                case 's':
                    item(kSpaceItems, false);
                    break;
                case 'S':
                    item(kSpaceItems, true);
                    break;
                case 'w':
                    item(kWordItems, false);
                    break;
                case 'W':
                    item(kWordItems, true);
                    break;
                case 'h':
                    item(kHexItems, false);
                    break;
                case 'H':
                    item(kHexItems, true);
                    break;
                case 'u': {
                    if (i + 6 > p.size() || !is_hex(p[i + 2]) || !is_hex(p[i + 3]) || !is_hex(p[i + 4]) ||
                        !is_hex(p[i + 5]))
                        fail("\\u needs four hex digits");
                    out += "\\x{";
                    out.append(p, i + 2, 4);
                    out += '}';
                    i += 6;
                    continue;
                }
                default:
                    out += c;
                    out += e;
            }
            i += 2;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = true;
            out += c;
            ++i;
            if (i < p.size() && p[i] == '^') out += p[i++];
            if (i < p.size() && p[i] == ']') out += p[i++];  // a leading ']' is literal
            continue;
        }
        if (in_class && c == '[') {
            if (i + 1 < p.size() && p[i + 1] == ':') {  // POSIX [:name:]
                const size_t end = p.find(":]", i + 2);
                if (end == std::string_view::npos) fail("unterminated [:class:]");
                out.append(p, i, end + 2 - i);
                i = end + 2;
                continue;
            }
            fail("nested character classes are not supported");
        }
        if (in_class && c == ']') in_class = false;
        out += c;
        ++i;
    }
    return out;
}

namespace {

// Per-thread match state: match data sized for the largest pattern seen, and a JIT stack
// larger than PCRE2's 32 KiB default (long runs of one class backtrack deeply).
struct MatchScratch {
    pcre2_match_data* data = nullptr;
    uint32_t pairs = 0;
    pcre2_jit_stack* jit_stack = nullptr;
    pcre2_match_context* context = nullptr;
    MatchScratch() {
        context = pcre2_match_context_create(nullptr);
        jit_stack = pcre2_jit_stack_create(64 * 1024, 16 * 1024 * 1024, nullptr);
        if (context && jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
    }
    ~MatchScratch() {
        if (data) pcre2_match_data_free(data);
        if (jit_stack) pcre2_jit_stack_free(jit_stack);
        if (context) pcre2_match_context_free(context);
    }
    pcre2_match_data* match_data(uint32_t need) {
        if (need > pairs) {
            if (data) pcre2_match_data_free(data);
            data = pcre2_match_data_create(need, nullptr);
            pairs = need;
        }
        return data;
    }
};

MatchScratch& scratch() {
    thread_local MatchScratch s;
    return s;
}

std::string pcre2_message(int code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(code, buf, sizeof buf);
    return reinterpret_cast<const char*>(buf);
}

}  // namespace

Regex::Regex(std::string_view onig_pattern) : source_(onig_pattern) {
    const std::string pattern = onig_to_pcre2(onig_pattern);
    pcre2_compile_context* cc = pcre2_compile_context_create(nullptr);
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    // Ruby syntax (Oniguruma's default): ^ and $ are line anchors.
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &err, &err_offset, cc);
    pcre2_compile_context_free(cc);
    if (!code)
        throw TokenizerError("regex '" + source_ + "' does not compile (as PCRE2 '" + pattern +
                             "'): " + pcre2_message(err) + " at offset " + std::to_string(err_offset));
    code_ = code;
    jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    uint32_t captures = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &captures);
    ovector_pairs_ = captures + 1;
}

Regex::~Regex() {
    if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

void Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
    auto* code = static_cast<pcre2_code*>(code_);
    MatchScratch& s = scratch();
    pcre2_match_data* md = s.match_data(ovector_pairs_);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    const size_t n = text.size();
    size_t pos = 0;
    size_t last_end = size_t(-1);
    while (pos <= n) {
        const int rc = jit_ ? pcre2_jit_match(code, subject, n, pos, 0, md, s.context)
                            : pcre2_match(code, subject, n, pos, PCRE2_NO_UTF_CHECK, md, s.context);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0)
            throw TokenizerError("regex '" + source_ + "' failed while matching: " + pcre2_message(rc));
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t start = ov[0], end = ov[1];
        if (start == end && end == last_end) {
            // An empty match right after the previous match: step over one character.
            if (pos >= n) break;
            ++pos;
            while (pos < n && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
            continue;
        }
        out.emplace_back(start, end);
        last_end = end;
        pos = end;  // after an empty match the next one may not be empty at the same place
    }
}

// ---- hand-written matchers for the known patterns ----

const std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

KnownPattern known_pattern(std::string_view p) {
    if (p == kGpt2Pattern) return KnownPattern::Gpt2;
    if (p == kLlama3Pattern) return KnownPattern::Llama3;
    if (p == kQwen2Pattern) return KnownPattern::Qwen2;
    return KnownPattern::None;
}

namespace {

enum : uint8_t { kLetter = 1, kNumber = 2, kSpace = 4 };

bool is_onig_space(char32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

// \p{L}, \p{N} and \s of every code point, as the regex engine sees them: the letter and
// number sets are read out of PCRE2 once (one scan over all code points), so both paths
// agree by construction, Unicode version included.
const std::vector<uint8_t>& char_classes() {
    static const std::vector<uint8_t> table = [] {
        std::vector<uint8_t> t(0x110000, 0);
        std::string all;
        all.reserve(0x110000 * 4);
        for (char32_t cp = 0; cp < 0x110000; ++cp)
            if (cp < 0xD800 || cp >= 0xE000) utf8::append(all, cp);
        std::vector<std::pair<size_t, size_t>> m;
        for (auto [pattern, bit] :
             {std::pair<const char*, uint8_t>{"\\p{L}+", kLetter}, {"\\p{N}+", kNumber}}) {
            m.clear();
            Regex(pattern).find_all(all, m);
            for (auto [b, e] : m)
                for (size_t i = b; i < e;) {
                    char32_t cp = 0;
                    size_t bad;
                    i += utf8::decode(all, i, cp, bad);
                    t[cp] |= bit;
                }
        }
        for (char32_t cp = 0; cp < 0x3001; ++cp)
            if (is_onig_space(cp)) t[cp] |= kSpace;
        return t;
    }();
    return table;
}

// Cursor over valid UTF-8 with the class of each character.
struct Scanner {
    std::string_view s;
    const uint8_t* classes;
    // Class and length of the character at i (i < s.size()).
    uint8_t at(size_t i, size_t& len) const {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            len = 1;
            return classes[c];
        }
        char32_t cp = 0;
        size_t bad;
        len = utf8::decode(s, i, cp, bad);
        return classes[cp];
    }
    uint8_t cls(size_t i) const {
        size_t len;
        return at(i, len);
    }
    // End of the run of characters whose class satisfies pred, from i.
    template <class Pred>
    size_t run(size_t i, Pred pred) const {
        size_t len;
        while (i < s.size() && pred(at(i, len))) i += len;
        return i;
    }
};

bool is_other(uint8_t c) {
    return c == 0;
}  // [^\s\p{L}\p{N}]

// Length of a contraction after an apostrophe at text[p...]: 's 't 're 've 'm 'll 'd, either
// exactly (GPT-2) or case-insensitively (Llama 3 / Qwen2, where s also matches U+017F ſ).
size_t contraction(std::string_view t, size_t p, bool caseless) {
    auto is = [&](size_t k, char lower) {
        if (k >= t.size()) return false;
        const char c = t[k];
        return c == lower || (caseless && c == lower - 'a' + 'A');
    };
    if (is(p, 's') || is(p, 't') || is(p, 'm') || is(p, 'd')) return 1;
    if (caseless && p + 1 < t.size() && t[p] == '\xC5' && t[p + 1] == '\xBF') return 2;  // ſ
    if ((is(p, 'r') || is(p, 'v')) && is(p + 1, 'e')) return 2;
    if (is(p, 'l') && is(p + 1, 'l')) return 2;
    return 0;
}

// \s+(?!\S) then \s+, at i (a whitespace character): the run, less its last character when
// a non-space follows and the run has more than one character.
size_t whitespace_end(const Scanner& sc, size_t i) {
    size_t j = i, last = i, len;
    while (j < sc.s.size() && (sc.at(j, len) & kSpace)) {
        last = j;
        j += len;
    }
    if (j == sc.s.size() || last == i) return j;
    return last;
}

void split_gpt2(const Scanner& sc, std::vector<std::pair<size_t, size_t>>& out) {
    const std::string_view t = sc.s;
    size_t i = 0;
    while (i < t.size()) {
        size_t end;
        if (t[i] == '\'' && (end = contraction(t, i + 1, false))) {
            out.emplace_back(i, i + 1 + end);
            i += 1 + end;
            continue;
        }
        const size_t p = t[i] == ' ' ? i + 1 : i;  // ' ?' before the letter / number / other runs
        const uint8_t c = p < t.size() ? sc.cls(p) : uint8_t(kSpace);
        if (c & kLetter)
            end = sc.run(p, [](uint8_t k) { return (k & kLetter) != 0; });
        else if (c & kNumber)
            end = sc.run(p, [](uint8_t k) { return (k & kNumber) != 0; });
        else if (is_other(c))
            end = sc.run(p, is_other);
        else
            end = whitespace_end(sc, i);
        out.emplace_back(i, end);
        i = end;
    }
}

void split_llama3(const Scanner& sc, size_t max_digits, std::vector<std::pair<size_t, size_t>>& out) {
    const std::string_view t = sc.s;
    size_t i = 0;
    while (i < t.size()) {
        size_t end, len;
        const uint8_t c = sc.at(i, len);
        const char b = t[i];
        if (b == '\'' && (end = contraction(t, i + 1, true))) {  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            end += i + 1;
        } else if (c & kLetter) {  // [^\r\n\p{L}\p{N}]?\p{L}+ without the optional character
            end = sc.run(i, [](uint8_t k) { return (k & kLetter) != 0; });
        } else if (b != '\r' && b != '\n' && !(c & kNumber) && i + len < t.size() &&
                   (sc.cls(i + len) & kLetter)) {
            end = sc.run(i + len, [](uint8_t k) { return (k & kLetter) != 0; });  // ... with it
        } else if (c & kNumber) {                                                 // \p{N}{1,max_digits}
            end = i + len;
            for (size_t k = 1; k < max_digits && end < t.size(); ++k) {
                size_t l2;
                if (!(sc.at(end, l2) & kNumber)) break;
                end += l2;
            }
        } else if (const size_t p = b == ' ' ? i + 1 : i; p < t.size() && is_other(sc.cls(p))) {
            end = sc.run(p, is_other);  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            while (end < t.size() && (t[end] == '\r' || t[end] == '\n')) ++end;
        } else {  // whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+
            const size_t run_end = sc.run(i, [](uint8_t k) { return (k & kSpace) != 0; });
            size_t last_newline = std::string_view::npos;
            for (size_t k = i; k < run_end; ++k)
                if (t[k] == '\r' || t[k] == '\n') last_newline = k;
            end = last_newline != std::string_view::npos ? last_newline + 1 : whitespace_end(sc, i);
        }
        out.emplace_back(i, end);
        i = end;
    }
}

}  // namespace

void find_all_known(KnownPattern pattern, std::string_view text,
                    std::vector<std::pair<size_t, size_t>>& out) {
    const Scanner sc{text, char_classes().data()};
    switch (pattern) {
        case KnownPattern::Gpt2:
            split_gpt2(sc, out);
            break;
        case KnownPattern::Llama3:
            split_llama3(sc, 3, out);
            break;
        case KnownPattern::Qwen2:
            split_llama3(sc, 1, out);
            break;
        case KnownPattern::None:
            throw TokenizerError("find_all_known: not a known pattern");
    }
}

// ---- pre-tokenizer steps ----

struct PreTokenizer::Step {
    virtual ~Step() = default;
    // Appends the pieces of `piece` to `out` (empty pieces are filtered by the caller).
    virtual void apply(std::string_view piece, std::vector<std::string_view>& out,
                       std::deque<std::string>& owned) const = 0;
};

namespace {

using Matches = std::vector<std::pair<size_t, size_t>>;

// HF NormalizedString::split: the pattern's matches and the gaps between them, each flagged,
// then grouped per behavior.
void split_by_matches(std::string_view piece, const Matches& matches, SplitBehavior behavior, bool invert,
                      std::vector<std::string_view>& out) {
    if (behavior == SplitBehavior::Isolated) {  // every match and every gap, in order
        size_t prev = 0;
        for (auto [s, e] : matches) {
            if (prev != s) out.push_back(piece.substr(prev, s - prev));
            if (e > s) out.push_back(piece.substr(s, e - s));
            prev = e;
        }
        if (prev != piece.size()) out.push_back(piece.substr(prev));
        return;
    }
    struct Seg {
        size_t start, end;
        bool is_match;
    };
    std::vector<Seg> segs;
    segs.reserve(matches.size() * 2 + 1);
    size_t prev = 0;
    for (auto [s, e] : matches) {
        if (prev != s) segs.push_back({prev, s, invert});
        segs.push_back({s, e, !invert});
        prev = e;
    }
    if (prev != piece.size()) segs.push_back({prev, piece.size(), invert});

    auto emit = [&](size_t s, size_t e) {
        if (e > s) out.push_back(piece.substr(s, e - s));
    };
    switch (behavior) {
        case SplitBehavior::Isolated:
            for (const Seg& g : segs) emit(g.start, g.end);
            break;
        case SplitBehavior::Removed:
            for (const Seg& g : segs)
                if (!g.is_match) emit(g.start, g.end);
            break;
        case SplitBehavior::Contiguous:
        case SplitBehavior::MergedWithPrevious: {
            std::vector<std::pair<size_t, size_t>> acc;
            bool previous_match = false;
            for (const Seg& g : segs) {
                const bool join = behavior == SplitBehavior::Contiguous ? g.is_match == previous_match
                                                                        : g.is_match && !previous_match;
                if (join && !acc.empty())
                    acc.back().second = g.end;
                else
                    acc.emplace_back(g.start, g.end);
                previous_match = g.is_match;
            }
            for (auto [s, e] : acc) emit(s, e);
            break;
        }
        case SplitBehavior::MergedWithNext: {
            std::vector<std::pair<size_t, size_t>> acc;  // built back to front
            bool previous_match = false;
            for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
                if (it->is_match && !previous_match && !acc.empty())
                    acc.back().first = it->start;
                else
                    acc.emplace_back(it->start, it->end);
                previous_match = it->is_match;
            }
            for (auto it = acc.rbegin(); it != acc.rend(); ++it) emit(it->first, it->second);
            break;
        }
    }
}

void find_matches(const Regex& regex, KnownPattern known, std::string_view text, Matches& out) {
    if (known != KnownPattern::None)
        find_all_known(known, text, out);
    else
        regex.find_all(text, out);
}

struct SplitStep final : PreTokenizer::Step {
    SplitStep(std::string_view pattern, SplitBehavior b, bool inv)
        : regex(pattern), known(known_pattern(pattern)), behavior(b), invert(inv) {
        if (known != KnownPattern::None) char_classes();  // build the table at load, not on first use
    }
    void apply(std::string_view piece, std::vector<std::string_view>& out,
               std::deque<std::string>&) const override {
        thread_local Matches matches;
        matches.clear();
        find_matches(regex, known, piece, matches);
        split_by_matches(piece, matches, behavior, invert, out);
    }
    Regex regex;
    KnownPattern known;
    SplitBehavior behavior;
    bool invert;
};

struct ByteLevelStep final : PreTokenizer::Step {
    ByteLevelStep(bool prefix, bool use_regex) : add_prefix_space(prefix) {
        if (use_regex) {
            regex = std::make_unique<Regex>(kGpt2Pattern);
            char_classes();
        }
    }
    void apply(std::string_view piece, std::vector<std::string_view>& out,
               std::deque<std::string>& owned) const override {
        // HF prepends the space to every piece reaching this step, not only the first.
        if (add_prefix_space && !piece.starts_with(' ')) {
            std::string& s = owned.emplace_back();
            s.reserve(piece.size() + 1);
            s += ' ';
            s += piece;
            piece = s;
        }
        if (!regex) {
            out.push_back(piece);
            return;
        }
        thread_local Matches matches;
        matches.clear();
        find_all_known(KnownPattern::Gpt2, piece, matches);
        split_by_matches(piece, matches, SplitBehavior::Isolated, false, out);
    }
    bool add_prefix_space;
    std::unique_ptr<Regex> regex;
};

// HF Digits: numeric characters (Rust char::is_numeric, i.e. \p{N}) split off, one by one
// or as contiguous runs.
struct DigitsStep final : PreTokenizer::Step {
    explicit DigitsStep(bool individual) : regex("\\p{N}"), individual_digits(individual) {}
    void apply(std::string_view piece, std::vector<std::string_view>& out,
               std::deque<std::string>&) const override {
        thread_local Matches matches;
        matches.clear();
        regex.find_all(piece, matches);
        split_by_matches(piece, matches,
                         individual_digits ? SplitBehavior::Isolated : SplitBehavior::Contiguous, false, out);
    }
    Regex regex;
    bool individual_digits;
};

SplitBehavior parse_behavior(const nlohmann::json& j) {
    const std::string b = j.is_string() ? j.get<std::string>() : "";
    if (b == "Removed") return SplitBehavior::Removed;
    if (b == "Isolated") return SplitBehavior::Isolated;
    if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
    if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
    if (b == "Contiguous") return SplitBehavior::Contiguous;
    throw TokenizerError("pre_tokenizer Split: unknown behavior " + j.dump());
}

std::string escape_literal(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (std::string_view("\\^$.|?*+()[]{}-/#& ~").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

bool get_bool(const nlohmann::json& j, const char* key, bool fallback) {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_boolean())
        throw TokenizerError(std::string("pre_tokenizer field '") + key + "' is not a boolean");
    return j[key].get<bool>();
}

}  // namespace

PreTokenizer::~PreTokenizer() = default;

std::unique_ptr<PreTokenizer> PreTokenizer::from_json(const nlohmann::json& j) {
    std::unique_ptr<PreTokenizer> pt(new PreTokenizer);
    std::vector<const nlohmann::json*> todo;
    // Flatten nested Sequences in order.
    auto flatten = [&](auto&& self, const nlohmann::json& node) -> void {
        if (node.is_null()) return;
        if (!node.is_object() || !node.contains("type") || !node["type"].is_string())
            throw TokenizerError("pre_tokenizer entry is not an object with a \"type\": " +
                                 node.dump().substr(0, 200));
        if (node["type"] == "Sequence") {
            if (!node.contains("pretokenizers") || !node["pretokenizers"].is_array())
                throw TokenizerError("pre_tokenizer Sequence has no \"pretokenizers\" list");
            for (const auto& sub : node["pretokenizers"]) self(self, sub);
        } else {
            todo.push_back(&node);
        }
    };
    flatten(flatten, j);
    for (size_t k = 0; k < todo.size(); ++k) {
        const nlohmann::json& s = *todo[k];
        const std::string type = s["type"];
        if (pt->byte_level_)
            throw TokenizerError("pre_tokenizer " + type +
                                 " after ByteLevel is not supported (ByteLevel must be the last step)");
        if (type == "Split") {
            if (!s.contains("pattern") || !s["pattern"].is_object())
                throw TokenizerError("pre_tokenizer Split has no \"pattern\" object");
            const auto& pat = s["pattern"];
            std::string regex;
            if (pat.contains("Regex") && pat["Regex"].is_string())
                regex = pat["Regex"].get<std::string>();
            else if (pat.contains("String") && pat["String"].is_string())
                regex = escape_literal(pat["String"].get<std::string>());
            else
                throw TokenizerError(
                    "pre_tokenizer Split pattern is neither {\"Regex\": ...} nor {\"String\": ...}");
            if (regex.empty()) continue;  // HF: an empty String pattern matches nothing
            pt->steps_.push_back(std::make_unique<SplitStep>(
                regex, parse_behavior(s.value("behavior", nlohmann::json())), get_bool(s, "invert", false)));
        } else if (type == "ByteLevel") {
            const bool prefix = get_bool(s, "add_prefix_space", true),
                       use_regex = get_bool(s, "use_regex", true);
            // Without both it only maps bytes to the alphabet, which the model does itself.
            if (prefix || use_regex) pt->steps_.push_back(std::make_unique<ByteLevelStep>(prefix, use_regex));
            pt->byte_level_ = true;
        } else if (type == "Digits") {
            pt->steps_.push_back(std::make_unique<DigitsStep>(get_bool(s, "individual_digits", false)));
        } else {
            throw TokenizerError("pre_tokenizer type '" + type +
                                 "' is not supported (supported: Sequence, Split, ByteLevel, Digits)");
        }
    }
    return pt;
}

void PreTokenizer::split(std::string_view text, Words& out) const {
    if (text.empty()) return;
    if (steps_.empty()) {
        out.words.push_back(text);
        return;
    }
    thread_local std::vector<std::string_view> cur, next;
    cur.assign(1, text);
    for (size_t k = 0; k < steps_.size(); ++k) {
        const bool last = k + 1 == steps_.size();
        std::vector<std::string_view>& dst = last ? out.words : next;
        if (!last) next.clear();
        for (std::string_view piece : cur) steps_[k]->apply(piece, dst, out.owned);
        if (!last) std::swap(cur, next);
    }
}

}  // namespace ember
