// Added tokens of a tokenizer.json (`<|im_start|>`, `<|endoftext|>`, ...) and how text is cut
// around them before the model sees it, as HF's AddedVocabulary does.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ember {

struct AddedToken {
    int32_t id = -1;
    std::string content;
    bool single_word = false;  // match only where not inside a word (\w on neither side)
    bool lstrip = false;       // the match swallows the whitespace on its left
    bool rstrip = false;       // ... and on its right
    bool normalized = false;   // matched in the normalized text (else in the raw text)
    bool special = false;      // skipped by decode(skip_special); plain text with allow_special=false
};

// Finds added tokens in text: leftmost match first, the longest token at that position
// (Aho-Corasick LeftmostLongest, as HF), non-overlapping, then HF's filters and stripping.
class AddedTokenMatcher {
  public:
    // `tokens` must outlive the matcher; `patterns[i]` is what token `indices[i]` looks like
    // in the text it is matched against.
    void build(const std::vector<AddedToken>& tokens, const std::vector<std::string>& patterns,
               const std::vector<size_t>& indices);
    bool empty() const { return terminal_.size() <= 1; }

    // Calls piece(text, -1) for the text between tokens (never empty) and piece("", id) for
    // each token, in order. skip_special: special tokens are not cut out (they stay text).
    void split(std::string_view text, bool skip_special,
               const std::function<void(std::string_view, int32_t)>& piece) const;

  private:
    int32_t child(int32_t node, unsigned char byte) const;
    const std::vector<AddedToken>* tokens_ = nullptr;
    std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> node
    std::vector<int32_t> terminal_{-1};            // node -> index into tokens_, or -1
    bool first_byte_[256] = {};
    int single_first_byte_ = -1;  // when every token starts with the same byte: memchr for it
};

// Unicode White_Space (what HF's \s means when it strips around added tokens).
bool is_unicode_space(char32_t cp);
// A word character in the sense of Rust regex \w (letters, marks, digits, connectors).
bool is_word_char(char32_t cp);

}  // namespace ember
