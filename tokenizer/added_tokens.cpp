// Added-token matching: a byte trie walked from each position that can start a token.
#include "tokenizer/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstring>

#include "tokenizer/utf8.h"

namespace ember {

bool is_unicode_space(char32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

bool is_word_char(char32_t cp) {
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    if (cp == 0x200C || cp == 0x200D) return true;  // Join_Control
    switch (utf8proc_category(utf8proc_int32_t(cp))) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_PC:
            return true;
        default:
            return false;
    }
}

namespace {

// The code point that ends just before byte offset `end` (text is valid UTF-8, end > 0).
char32_t char_before(std::string_view text, size_t end, size_t& start) {
    start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    char32_t cp = 0;
    size_t bad;
    utf8::decode(text, start, cp, bad);
    return cp;
}

char32_t char_at(std::string_view text, size_t pos, size_t& len) {
    char32_t cp = 0;
    size_t bad;
    len = utf8::decode(text, pos, cp, bad);
    if (len == 0) len = 1;
    return cp;
}

}  // namespace

void AddedTokenMatcher::build(const std::vector<AddedToken>& tokens, const std::vector<std::string>& patterns,
                              const std::vector<size_t>& indices) {
    tokens_ = &tokens;
    edges_.clear();
    terminal_.assign(1, -1);
    std::fill(std::begin(first_byte_), std::end(first_byte_), false);
    for (size_t k = 0; k < patterns.size(); ++k) {
        const std::string& p = patterns[k];
        if (p.empty()) continue;  // HF ignores empty added tokens
        first_byte_[static_cast<unsigned char>(p[0])] = true;
        int32_t node = 0;
        for (unsigned char b : p) {
            const uint64_t key = (uint64_t(node) << 8) | b;
            auto it = edges_.find(key);
            if (it == edges_.end()) {
                const int32_t fresh = int32_t(terminal_.size());
                terminal_.push_back(-1);
                it = edges_.emplace(key, fresh).first;
            }
            node = it->second;
        }
        terminal_[size_t(node)] = int32_t(indices[k]);  // a later duplicate wins
    }
    single_first_byte_ = -1;
    for (int b = 0; b < 256; ++b)
        if (first_byte_[b]) single_first_byte_ = single_first_byte_ == -1 ? b : -2;
}

int32_t AddedTokenMatcher::child(int32_t node, unsigned char byte) const {
    auto it = edges_.find((uint64_t(node) << 8) | byte);
    return it == edges_.end() ? -1 : it->second;
}

void AddedTokenMatcher::split(std::string_view text, bool skip_special,
                              const std::function<void(std::string_view, int32_t)>& piece) const {
    auto emit_text = [&](size_t s, size_t e) {
        if (e > s) piece(text.substr(s, e - s), -1);
    };
    if (empty()) {
        emit_text(0, text.size());
        return;
    }
    const std::vector<AddedToken>& tokens = *tokens_;
    size_t start_offset = 0;  // end of what has been emitted
    size_t i = 0;
    const size_t n = text.size();
    while (i < n) {
        if (single_first_byte_ >= 0) {
            const void* hit = std::memchr(text.data() + i, single_first_byte_, n - i);
            if (!hit) break;
            i = size_t(static_cast<const char*>(hit) - text.data());
        } else if (!first_byte_[static_cast<unsigned char>(text[i])]) {
            ++i;
            continue;
        }
        // Longest token starting at i.
        int32_t best = -1;
        size_t best_end = 0;
        int32_t node = 0;
        for (size_t k = i; k < n; ++k) {
            node = child(node, static_cast<unsigned char>(text[k]));
            if (node < 0) break;
            if (terminal_[size_t(node)] >= 0) {
                best = terminal_[size_t(node)];
                best_end = k + 1;
            }
        }
        if (best < 0) {
            ++i;
            continue;
        }
        const AddedToken& tok = tokens[size_t(best)];
        size_t start = i, stop = best_end;
        i = best_end;  // the search resumes after the match, whether it is used or not
        if (skip_special && tok.special) continue;
        if (start < start_offset) continue;  // inside whitespace an rstrip token already took
        if (tok.single_word) {
            size_t cs, len;
            const bool start_space = start == 0 || !is_word_char(char_before(text, start, cs));
            const bool stop_space = stop == n || !is_word_char(char_at(text, stop, len));
            if (!start_space || !stop_space) continue;
        }
        if (tok.lstrip) {
            size_t s = start;
            while (s > 0) {
                size_t cs;
                if (!is_unicode_space(char_before(text, s, cs))) break;
                s = cs;
            }
            start = std::max(s, start_offset);
        }
        if (tok.rstrip) {
            while (stop < n) {
                size_t len;
                if (!is_unicode_space(char_at(text, stop, len))) break;
                stop += len;
            }
        }
        start = std::max(start, start_offset);
        emit_text(start_offset, start);
        piece(std::string_view(), tok.id);
        start_offset = stop;
    }
    emit_text(start_offset, n);
}

}  // namespace ember
