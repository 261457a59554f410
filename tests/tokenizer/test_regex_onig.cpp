// Cross-check of the regex layer against Oniguruma itself (what HF tokenizers links), built
// only when libonig-dev is installed: every code point must be classified alike by the
// character classes tokenizer.json patterns use, and for every string of the corpus and each
// pre-tokenizer pattern of the supported models, Ember's PCRE2 translation and its
// hand-written matchers must find exactly the matches Oniguruma finds.   test_regex_onig CORPUS
#include <oniguruma.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using Matches = std::vector<std::pair<size_t, size_t>>;

class OnigPattern {
  public:
    explicit OnigPattern(const std::string& p) {
        OnigErrorInfo info;
        if (onig_new(&re_, reinterpret_cast<const UChar*>(p.data()),
                     reinterpret_cast<const UChar*>(p.data() + p.size()), ONIG_OPTION_NONE,
                     ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &info) != ONIG_NORMAL)
            throw std::runtime_error("onig_new failed for " + p);
        region_ = onig_region_new();
    }
    ~OnigPattern() {
        onig_region_free(region_, 1);
        onig_free(re_);
    }
    // Successive matches, an empty one never right after the previous match (find_iter).
    Matches find_all(const std::string& s) {
        Matches out;
        const auto* str = reinterpret_cast<const UChar*>(s.data());
        const UChar* end = str + s.size();
        size_t pos = 0, last_end = size_t(-1);
        while (pos <= s.size()) {
            if (onig_search(re_, str, end, str + pos, end, region_, ONIG_OPTION_NONE) < 0) break;
            const size_t b = size_t(region_->beg[0]), e = size_t(region_->end[0]);
            if (b == e && e == last_end) {
                if (pos >= s.size()) break;
                ++pos;
                while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
                continue;
            }
            out.emplace_back(b, e);
            last_end = pos = e;
        }
        return out;
    }

  private:
    regex_t* re_ = nullptr;
    OnigRegion* region_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS\n", argv[0]);
        return 2;
    }
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
    const std::vector<std::pair<const char*, std::string>> patterns = {
        {"qwen2", std::string(ember::kQwen2Pattern)},
        {"llama3", std::string(ember::kLlama3Pattern)},
        {"gpt2", std::string(ember::kGpt2Pattern)},
        {"words", R"(\w+|\W+|\d+|\S+)"},
    };
    int failures = 0;
    // Every code point (surrogates excepted) against each class, alone.
    for (const char* cls : {"\\s", "\\S", "\\w", "\\W", "\\d", "\\p{L}", "\\p{N}", "\\p{P}", "\\p{S}",
                            "\\p{M}", "[^\\s\\p{L}\\p{N}]", "(?i:s)", "(?i:k)"}) {
        OnigPattern onig(cls);
        ember::Regex ours(cls);
        size_t bad = 0;
        Matches got;
        for (char32_t cp = 0; cp < 0x110000; ++cp) {
            if (cp >= 0xD800 && cp < 0xE000) continue;
            std::string s;
            ember::utf8::append(s, cp);
            got.clear();
            ours.find_all(s, got);
            if (got != onig.find_all(s) && bad++ < 3)
                std::printf("  %s: U+%04X differs\n", cls, unsigned(cp));
        }
        std::printf("%s: %zu code points classified differently\n", cls, bad);
        failures += bad != 0;
    }
    std::vector<std::string> texts;
    std::ifstream in(argv[1], std::ios::binary);
    for (std::string line; std::getline(in, line);)
        texts.push_back(nlohmann::json::parse(line).get<std::string>());
    // Characters where engines disagree, beyond what the corpus holds.
    for (const char* extra : {"a\xC2\x85"
                              "b",
                              "x\xEF\xBB\xBFy",
                              "it'\xC5\xBF"
                              "am",
                              "\xE1\xA0\x8E\xE1\xA0\x8E z", "e\xCC\x81\xCC\x81"})
        texts.emplace_back(extra);
    for (const auto& [name, pattern] : patterns) {
        OnigPattern onig(pattern);
        ember::Regex ours(pattern);
        size_t bad = 0;
        for (size_t i = 0; i < texts.size(); ++i) {
            Matches got, fast;
            ours.find_all(texts[i], got);
            const Matches want = onig.find_all(texts[i]);
            const ember::KnownPattern known = ember::known_pattern(pattern);
            if (known != ember::KnownPattern::None) ember::find_all_known(known, texts[i], fast);
            if ((got != want || (known != ember::KnownPattern::None && fast != want)) && bad++ < 3)
                std::printf("  %s: string %zu: %s\n", name, i + 1,
                            nlohmann::json(texts[i]).dump().substr(0, 120).c_str());
        }
        std::printf("%s: %zu of %zu strings match differently\n", name, bad, texts.size());
        failures += bad != 0;
    }
    onig_end();
    return failures ? 1 : 0;
}
