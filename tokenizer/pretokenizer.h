// Pre-tokenization of HF tokenizer.json files: cutting text into the words BPE runs on.
//
// HF tokenizers compiles its regexes with Oniguruma; Ember uses PCRE2 (UTF + UCP, JIT). The
// two agree on the constructs tokenizer.json files use (\p{L}, \p{N}, (?i:...), lookahead,
// alternation order) except for the shorthand classes, which onig_to_pcre2() rewrites to
// Oniguruma's Unicode meaning (\s = White_Space, so not U+180E as in PCRE2; \w includes marks).
// See docs/tokenizers.md.
#pragma once
#include <cstddef>
#include <deque>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember {

// Oniguruma (Ruby syntax) pattern -> equivalent PCRE2 pattern. Rewrites \s \S \w \W \h \H
// (outside and, for the positive ones, inside character classes) and \uHHHH; everything
// else is passed through. Throws TokenizerError on a pattern it cannot translate.
std::string onig_to_pcre2(std::string_view onig_pattern);

// A compiled regex. Matching is thread-safe (per-thread scratch space).
class Regex {
  public:
    // `pattern` is Oniguruma syntax as found in tokenizer.json; throws TokenizerError when it
    // does not compile (the message names the pattern and PCRE2's reason and offset).
    explicit Regex(std::string_view onig_pattern);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // Successive non-overlapping matches in `text` (valid UTF-8), leftmost first, as
    // Oniguruma's find_iter gives them: [start, end) byte offsets appended to `out`.
    void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

    const std::string& source() const { return source_; }

  private:
    std::string source_;    // the pattern as given
    void* code_ = nullptr;  // pcre2_code_8*
    bool jit_ = false;
    uint32_t ovector_pairs_ = 1;
};

// The pre-tokenizer patterns of GPT-2 (ByteLevel's use_regex), Llama 3 and Qwen2 have
// hand-written matchers, several times faster than the regex engine and giving the same
// matches (character classes taken from PCRE2 itself; tests/tokenizer/test_tokenizer.cpp
// compares both on random text, test_regex_onig.cpp against Oniguruma).
enum class KnownPattern { None, Gpt2, Llama3, Qwen2 };
// Which known pattern `onig_pattern` is, by exact text (None for any other).
KnownPattern known_pattern(std::string_view onig_pattern);
// The matches of a known pattern in `text` (valid UTF-8), as Regex::find_all gives them.
void find_all_known(KnownPattern pattern, std::string_view text, std::vector<std::pair<size_t, size_t>>& out);
// The patterns themselves, as tokenizer.json files spell them.
extern const std::string_view kGpt2Pattern, kLlama3Pattern, kQwen2Pattern;

// How a Split pre-tokenizer treats the pieces its pattern matches (HF SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// The words of one pre-tokenized string: slices of the input, or of `owned` for pieces the
// pre-tokenizer built (ByteLevel's add_prefix_space prepends a space).
struct Words {
    std::vector<std::string_view> words;
    std::deque<std::string> owned;
    void clear() {
        words.clear();
        owned.clear();
    }
};

// A tokenizer.json "pre_tokenizer": a sequence of steps, each cutting every current piece
// further; empty pieces are dropped (as HF does). Supported steps: Split (Regex or String
// pattern, all five behaviors, invert), ByteLevel (add_prefix_space, use_regex with GPT-2's
// pattern; must come last, the BPE model then works on raw bytes), Digits, Sequence.
class PreTokenizer {
  public:
    // From the JSON value (null = no pre-tokenization). Throws TokenizerError naming an
    // unsupported type or a bad field.
    static std::unique_ptr<PreTokenizer> from_json(const nlohmann::json& j);
    ~PreTokenizer();

    // Cuts `text` (valid UTF-8) into words, appended to out.words.
    void split(std::string_view text, Words& out) const;

    // True when the pipeline ends with ByteLevel: the model's vocabulary is byte-level.
    bool byte_level() const { return byte_level_; }

    struct Step;

  private:
    PreTokenizer() = default;
    std::vector<std::unique_ptr<Step>> steps_;
    bool byte_level_ = false;
};

}  // namespace ember
