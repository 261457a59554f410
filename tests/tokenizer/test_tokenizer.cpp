// Unit tests of the BPE tokenizer on small hand-made tokenizer.json files, and of its parts:
// byte-level alphabet, UTF-8 handling, regex translation, pre-tokenizer behaviours, NFC.
#include <doctest/doctest.h>
#include <utf8proc.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

using namespace ember;
using nlohmann::json;
using Ids = std::vector<int32_t>;

namespace {

// Qwen2's pre-tokenizer pattern, as in its tokenizer.json.
const char* kQwenPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A byte-level tokenizer: ids 0..255 are the bytes (in GPT-2's alphabet), then one id per
// merge result in order. `merges` are written in plain bytes ("h e"); pair_form selects the
// [a, b] spelling of tokenizer.json instead of "a b".
json byte_level_json(const std::vector<std::pair<std::string, std::string>>& merges, bool pair_form = false) {
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[byte_level::encode(std::string(1, char(b)))] = b;
    json m = json::array();
    int next = 256;
    for (const auto& [a, b] : merges) {
        const std::string ea = byte_level::encode(a), eb = byte_level::encode(b);
        if (!vocab.contains(ea + eb)) vocab[ea + eb] = next++;
        if (pair_form)
            m.push_back(json::array({ea, eb}));
        else
            m.push_back(ea + " " + eb);
    }
    return {
        {"version", "1.0"},
        {"added_tokens", json::array()},
        {"normalizer", {{"type", "NFC"}}},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers", json::array({{{"type", "Split"},
                                          {"pattern", {{"Regex", kQwenPattern}}},
                                          {"behavior", "Isolated"},
                                          {"invert", false}},
                                         {{"type", "ByteLevel"},
                                          {"add_prefix_space", false},
                                          {"trim_offsets", false},
                                          {"use_regex", false}}})}}},
        {"post_processor", nullptr},
        {"decoder",
         {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
        {"model",
         {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", nullptr},
          {"continuing_subword_prefix", ""},
          {"end_of_word_suffix", ""},
          {"fuse_unk", false},
          {"byte_fallback", false},
          {"ignore_merges", false},
          {"vocab", vocab},
          {"merges", m}}},
    };
}

json added(int id, const std::string& content, bool special, bool lstrip = false, bool rstrip = false,
           bool single_word = false, bool normalized = false) {
    return {{"id", id},         {"content", content},       {"single_word", single_word}, {"lstrip", lstrip},
            {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

Ids bytes_of(std::string_view s) {
    Ids ids;
    for (unsigned char c : s) ids.push_back(c);
    return ids;
}

Ids cat(std::initializer_list<Ids> parts) {
    Ids out;
    for (const Ids& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

std::vector<std::string> split_words(const PreTokenizer& pt, std::string_view text) {
    Words w;
    pt.split(text, w);
    return {w.words.begin(), w.words.end()};
}

}  // namespace

TEST_CASE("byte-level alphabet: GPT-2's table, a bijection") {
    CHECK(byte_level::byte_to_char(' ') == U'\u0120');   // Ġ
    CHECK(byte_level::byte_to_char('\n') == U'\u010A');  // Ċ
    CHECK(byte_level::byte_to_char('a') == U'a');
    CHECK(byte_level::byte_to_char(0xAD) == U'\u0143');  // the last stand-in
    std::string all;
    for (int b = 0; b < 256; ++b) {
        all += char(b);
        CHECK(byte_level::char_to_byte(byte_level::byte_to_char(uint8_t(b))) == b);
    }
    CHECK(byte_level::decode(byte_level::encode(all)) == all);
    CHECK_FALSE(byte_level::decode("\xE4\xB8\xAD").has_value());  // 中 is not in the alphabet
}

TEST_CASE("UTF-8: strict validation, lossy repair per maximal subpart") {
    CHECK(utf8::find_invalid("plain ASCII and \xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80") == utf8::npos);
    CHECK(utf8::find_invalid("ab\xC0\xAF") == 2);                   // overlong
    CHECK(utf8::find_invalid("\xED\xA0\x80") == 0);                 // surrogate
    CHECK(utf8::find_invalid("x\xF4\x90\x80\x80") == 1);            // above U+10FFFF
    CHECK(utf8::find_invalid("xyz\xE4\xB8") == 3);                  // truncated
    CHECK(utf8::find_invalid("12345678\x80") == 8);                 // stray continuation after the fast path
    CHECK(utf8::repair("a\xE4\xB8z") == "a\xEF\xBF\xBDz");          // one U+FFFD for a truncated char
    CHECK(utf8::repair("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // two bad bytes, two U+FFFD
    CHECK(utf8::repair("\xF0\x9F\x98") == "\xEF\xBF\xBD");
}

TEST_CASE("regex translation follows Oniguruma's shorthand classes") {
    CHECK(onig_to_pcre2("a\\sb") ==
          "a[\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{"
          "205F}\\x{3000}]b");
    CHECK(onig_to_pcre2("[^\\s\\p{L}]") ==
          "[^\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{"
          "205F}\\x{3000}\\p{L}]");
    CHECK(onig_to_pcre2("\\u4E00-\\u9FA5") == "\\x{4E00}-\\x{9FA5}");
    CHECK(onig_to_pcre2("[]a]\\]") == "[]a]\\]");
    CHECK_THROWS_AS(Regex("(unclosed"), TokenizerError);

    std::vector<std::pair<size_t, size_t>> m;
    auto matches = [&](const char* pattern, std::string_view text) {
        m.clear();
        Regex(pattern).find_all(text, m);
        return m.size();
    };
    // Checked against Oniguruma 6.9.8 (what HF tokenizers links): NEL is \s, U+180E and
    // U+FEFF are not; a combining mark is \w.
    CHECK(matches("\\s", "\xC2\x85") == 1);
    CHECK(matches("\\s", "\xE1\xA0\x8E") == 0);
    CHECK(matches("\\s", "\xEF\xBB\xBF") == 0);
    CHECK(matches("\\w", "\xCC\x81") == 1);
    // (?i:'s) also matches the long s, as Oniguruma's case folding does.
    matches(kQwenPattern,
            "'\xC5\xBF"
            "am");
    REQUIRE(m.size() == 2);
    CHECK(m[0] == std::pair<size_t, size_t>(0, 3));
    CHECK(m[1] == std::pair<size_t, size_t>(3, 5));
    // Successive matches of an empty-matching pattern step over one character.
    CHECK(matches("x*", "ab") == 3);
}

TEST_CASE("hand-written matchers == the regex engine for the GPT-2, Llama 3 and Qwen2 patterns") {
    CHECK(known_pattern(kQwenPattern) == KnownPattern::Qwen2);
    CHECK(known_pattern(kLlama3Pattern) == KnownPattern::Llama3);
    CHECK(known_pattern(kGpt2Pattern) == KnownPattern::Gpt2);
    CHECK(known_pattern("\\p{N}") == KnownPattern::None);
    // Random strings over characters each alternative cares about: contraction letters in
    // both cases and the long s, apostrophes, every kind of space, \r \n, digits of several
    // kinds, letters, marks, symbols, emoji.
    const std::vector<std::string> alphabet = {"a",
                                               "Z",
                                               "s",
                                               "S",
                                               "t",
                                               "T",
                                               "r",
                                               "R",
                                               "e",
                                               "E",
                                               "v",
                                               "V",
                                               "m",
                                               "M",
                                               "l",
                                               "L",
                                               "d",
                                               "D",
                                               "'",
                                               "'",
                                               "\xC5\xBF",
                                               "k",
                                               " ",
                                               " ",
                                               " ",
                                               "\t",
                                               "\n",
                                               "\r",
                                               "\xC2\xA0",
                                               "\xE3\x80\x80",
                                               "\xC2\x85",
                                               "\xE1\xA0\x8E",
                                               "\xE2\x80\xA8",
                                               "\x0B",
                                               "1",
                                               "7",
                                               "\xD9\xA3",
                                               "\xC2\xB2",
                                               "\xE2\x85\xAB",
                                               "\xE4\xB8\xAD",
                                               "\xC3\xA9",
                                               "\xCC\x81",
                                               "\xF0\x9F\x98\x80",
                                               ".",
                                               ",",
                                               "-",
                                               "_",
                                               "\xE2\x80\x8B",
                                               "\xEF\xBB\xBF",
                                               "x",
                                               "\xE2\x82\xAC"};
    const std::pair<KnownPattern, const char*> cases[] = {{KnownPattern::Gpt2, kGpt2Pattern.data()},
                                                          {KnownPattern::Llama3, kLlama3Pattern.data()},
                                                          {KnownPattern::Qwen2, kQwenPattern}};
    uint64_t state = 12345;
    auto next = [&] {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return uint32_t(state >> 33);
    };
    for (auto [known, pattern] : cases) {
        Regex regex(pattern);
        int differ = 0;
        for (int iter = 0; iter < 20000; ++iter) {
            std::string text;
            const uint32_t n = next() % 24;
            for (uint32_t k = 0; k < n; ++k) text += alphabet[next() % alphabet.size()];
            std::vector<std::pair<size_t, size_t>> want, got;
            regex.find_all(text, want);
            find_all_known(known, text, got);
            if (want != got && differ++ < 3) {
                CAPTURE(text);
                CAPTURE(pattern);
                CHECK(want == got);
            }
        }
        CHECK(differ == 0);
    }
}

TEST_CASE("Split behaviours and invert, as HF's SplitDelimiterBehavior") {
    auto pt_for = [](const std::string& behavior, bool invert, const char* pattern = "-") {
        return PreTokenizer::from_json({{"type", "Split"},
                                        {"pattern", {{"String", pattern}}},
                                        {"behavior", behavior},
                                        {"invert", invert}});
    };
    using V = std::vector<std::string>;
    CHECK(split_words(*pt_for("Isolated", false), "a-b--c-") == V{"a", "-", "b", "-", "-", "c", "-"});
    CHECK(split_words(*pt_for("Removed", false), "a-b--c-") == V{"a", "b", "c"});
    CHECK(split_words(*pt_for("MergedWithPrevious", false), "a-b--c-") == V{"a-", "b-", "-", "c-"});
    CHECK(split_words(*pt_for("MergedWithNext", false), "-a-b--c") == V{"-a", "-b", "-", "-c"});
    CHECK(split_words(*pt_for("Contiguous", false), "a-b--c-") == V{"a", "-", "b", "--", "c", "-"});
    CHECK(split_words(*pt_for("Removed", true), "a-b--c-") == V{"-", "-", "-", "-"});
    // A String pattern is literal, regex metacharacters included.
    CHECK(split_words(*pt_for("Removed", false, ".*"), "a.*b.c") == V{"a", "b.c"});
    // Digits, and a ByteLevel that adds a prefix space to every piece it receives.
    auto digits = PreTokenizer::from_json({{"type", "Digits"}, {"individual_digits", true}});
    CHECK(split_words(*digits, "ab123c") == V{"ab", "1", "2", "3", "c"});
    auto seq = PreTokenizer::from_json(
        {{"type", "Sequence"},
         {"pretokenizers",
          json::array({{{"type", "Split"},
                        {"pattern", {{"String", "|"}}},
                        {"behavior", "Removed"},
                        {"invert", false}},
                       {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}})}});
    CHECK(seq->byte_level());
    CHECK(split_words(*seq, "hi there| you") == V{" hi", " there", " you"});
    CHECK_THROWS_AS(PreTokenizer::from_json({{"type", "Metaspace"}}), TokenizerError);
    CHECK_THROWS_AS(PreTokenizer::from_json(
                        {{"type", "Sequence"},
                         {"pretokenizers", json::array({{{"type", "ByteLevel"}}, {{"type", "Digits"}}})}}),
                    TokenizerError);
}

namespace {
std::string full_nfc(const std::string& s, int options = UTF8PROC_STABLE | UTF8PROC_COMPOSE) {
    utf8proc_uint8_t* out = nullptr;
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                utf8proc_ssize_t(s.size()), &out, utf8proc_option_t(options));
    std::string r = n >= 0 ? std::string(reinterpret_cast<char*>(out), size_t(n)) : std::string("<error>");
    std::free(out);
    return r;
}
}  // namespace

TEST_CASE("NFC: utf8proc, applied only between inert characters") {
    CHECK(unicode_normalize("Cafe\xCC\x81", NormalForm::NFC) == "Caf\xC3\xA9");
    CHECK(unicode_normalize("\xE2\x84\xAB", NormalForm::NFC) == "\xC3\x85");  // Angstrom sign -> Å
    CHECK(unicode_normalize("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", NormalForm::NFC) ==
          "\xED\x95\x9C");  // jamo -> 한
    CHECK(unicode_normalize("\xEF\xAC\x81", NormalForm::NFKC) == "fi");
    CHECK(unicode_normalize(std::string("a\0b\xC3\xA9", 5), NormalForm::NFC) ==
          std::string("a\0b\xC3\xA9", 5));
    // Inert characters are NFC-stable and ccc 0 ...
    int bad = 0;
    for (char32_t cp = 0; cp < 0x110000; ++cp) {
        if ((cp >= 0xD800 && cp < 0xE000) || !nfc_inert_for_test(cp)) continue;
        std::string s;
        utf8::append(s, cp);
        if (full_nfc(s) != s || utf8proc_get_property(utf8proc_int32_t(cp))->combining_class != 0) ++bad;
    }
    CHECK(bad == 0);
    // ... and never the second half of a composition: for every primary composite x = NFC(a b...),
    // the characters after the first are not inert.
    bad = 0;
    for (char32_t cp = 0xC0; cp < 0x30000; ++cp) {
        if (cp >= 0xD800 && cp < 0xE000) continue;
        std::string s;
        utf8::append(s, cp);
        const std::string d = full_nfc(s, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
        if (d == s || full_nfc(d) != s) continue;
        size_t i = 0, len = 0;
        char32_t c = 0;
        size_t badlen;
        len = utf8::decode(d, 0, c, badlen);
        for (i = len; i < d.size(); i += len) {
            len = utf8::decode(d, i, c, badlen);
            if (nfc_inert_for_test(c)) ++bad;
        }
    }
    CHECK(bad == 0);
    // Stretch-wise NFC == whole-text NFC on random text full of marks, jamo and singletons.
    const std::vector<std::string> alphabet = {"a",
                                               "e",
                                               "E",
                                               "o",
                                               "A",
                                               " ",
                                               "\xCC\x81",
                                               "\xCC\x80",
                                               "\xCC\x88",
                                               "\xCC\xA3",
                                               "\xCD\x85",
                                               "\xC3\xA9",
                                               "\xE2\x84\xAB",
                                               "\xE2\x84\xA6",
                                               "\xE1\x84\x92",
                                               "\xE1\x85\xA1",
                                               "\xE1\x86\xAB",
                                               "\xEA\xB0\x80",
                                               "\xE3\x81\x8B",
                                               "\xE3\x82\x99",
                                               "\xE0\xA4\x95",
                                               "\xE0\xA4\xBC",
                                               "\xE0\xAE\x92",
                                               "\xE0\xAF\x97",
                                               "\xE4\xB8\xAD",
                                               "\xF0\x9F\x98\x80",
                                               "\xE1\xBA\x9B",
                                               "\xCD\x84",
                                               "\xE0\xA5\x98",
                                               "\xD7\x90",
                                               "\xD6\xB7"};
    uint64_t state = 99;
    int differ = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        std::string text;
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        const uint32_t n = uint32_t(state >> 33) % 16;
        for (uint32_t k = 0; k < n; ++k) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            text += alphabet[(state >> 33) % alphabet.size()];
        }
        if (unicode_normalize(text, NormalForm::NFC) != full_nfc(text) && differ++ < 3) {
            CAPTURE(text);
            CHECK(unicode_normalize(text, NormalForm::NFC) == full_nfc(text));
        }
    }
    CHECK(differ == 0);
}

TEST_CASE("merges apply by rank, leftmost first on ties; both merge spellings") {
    const std::vector<std::pair<std::string, std::string>> merges = {
        {"b", "c"}, {"a", "b"}, {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"a", "a"}, {" ", "w"}};
    for (bool pair_form : {false, true}) {
        CAPTURE(pair_form);
        BpeTokenizer tok(byte_level_json(merges, pair_form).dump());
        CHECK(tok.byte_level());
        const int32_t bc = *tok.token_to_id("bc"), hello = *tok.token_to_id("hello"),
                      aa = *tok.token_to_id("aa");
        CHECK(tok.encode("abc") == Ids{'a', bc});  // "b c" (rank 0) beats "a b" (rank 1)
        CHECK(tok.encode("hello") == Ids{hello});
        CHECK(tok.encode("aaa") == Ids{aa, 'a'});  // leftmost pair first
        CHECK(tok.encode("aaaa") == Ids{aa, aa});
        CHECK(tok.encode("hello world") == Ids{hello, *tok.token_to_id("\xC4\xA0w"), 'o', 'r', 'l', 'd'});
        CHECK(tok.encode("") == Ids{});
        CHECK(tok.decode(tok.encode("hello world")) == "hello world");
        CHECK(*tok.id_to_token(*tok.token_to_id("\xC4\xA0w")) == "\xC4\xA0w");  // "Ġw" as the file spells it
    }
}

TEST_CASE("ignore_merges takes a whole word from the vocabulary") {
    json j = byte_level_json({{"h", "e"}, {"l", "l"}, {"o", "w"}});
    j["model"]["vocab"]["hellow"] = 1000;  // reachable only as a whole word
    BpeTokenizer plain(j.dump());
    CHECK(plain.encode("hellow") ==
          Ids{*plain.token_to_id("he"), *plain.token_to_id("ll"), *plain.token_to_id("ow")});
    j["model"]["ignore_merges"] = true;
    BpeTokenizer ignoring(j.dump());
    CHECK(ignoring.encode("hellow") == Ids{1000});
}

TEST_CASE("added tokens: special and not, allow_special, longest match, flags") {
    json j = byte_level_json({{"h", "i"}});
    const int32_t hi = 256;
    j["added_tokens"] = json::array(
        {added(300, "<|im_start|>", true), added(301, "<|im_end|>", true), added(302, "<|im_start|>x", true),
         added(303, "<think>", false), added(304, "[L]", false, true, false),
         added(305, "[R]", false, false, true), added(306, "word", false, false, false, true),
         added(307, "\xC3\xA9", false, false, false, false, true)});
    BpeTokenizer tok(j.dump());
    CHECK(tok.encode("<|im_start|>hi<|im_end|>") == Ids{300, hi, 301});
    CHECK(tok.encode("<|im_start|>x") == Ids{302});  // the longest token at the leftmost position
    CHECK(tok.encode("a<|im_end|><|im_end|>b") == Ids{'a', 301, 301, 'b'});
    EncodeOptions plain;
    plain.allow_special = false;
    CHECK(tok.encode("<|im_end|>", plain) == bytes_of("<|im_end|>"));
    CHECK(tok.encode("<think>hi", plain) == Ids{303, hi});  // non-special tokens stay tokens
    // lstrip takes the whitespace on the left; rstrip on the right.
    CHECK(tok.encode("a  [L]b") == Ids{'a', 304, 'b'});
    CHECK(tok.encode("a[R]  b") == Ids{'a', 305, 'b'});
    // single_word: not inside a word.
    CHECK(tok.encode("a word b") == Ids{'a', ' ', 306, ' ', 'b'});
    CHECK(tok.encode("swordfish") == bytes_of("swordfish"));
    // normalized: matched after NFC, so the decomposed spelling matches too.
    CHECK(tok.encode("e\xCC\x81") == Ids{307});
    // Decoding: special tokens as text by default, or skipped.
    CHECK(tok.decode(Ids{300, hi, 301}) == "<|im_start|>hi<|im_end|>");
    DecodeOptions skip;
    skip.skip_special = true;
    CHECK(tok.decode(Ids{300, hi, 301, 303}, skip) == "hi<think>");
    CHECK(tok.is_special(300));
    CHECK_FALSE(tok.is_special(303));
    CHECK(tok.vocab_size() == 308);
}

TEST_CASE("round trip and invalid input") {
    BpeTokenizer tok(byte_level_json({{"t", "h"}, {"th", "e"}, {" ", "the"}}).dump());
    for (const char* s : {"the theme", "  \t\r\n x", "中文 日本語 한국어",
                          "emoji \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9", "\x01\x7F control",
                          "1234567890", "it's they'RE"}) {
        CAPTURE(s);
        CHECK(tok.decode(tok.encode(s)) == s);
    }
    CHECK(tok.decode(tok.encode("Cafe\xCC\x81")) == "Caf\xC3\xA9");  // NFC first
    // Invalid UTF-8: an error naming the offset, never a crash.
    for (const char* s : {"abc\xFF", "\xC3", "ok \xED\xA0\x80", "\xF8\x88\x80\x80\x80"}) {
        CAPTURE(s);
        CHECK_THROWS_AS(tok.encode(s), TokenizerError);
    }
    try {
        tok.encode("abc\xFF");
    } catch (const TokenizerError& e) {
        CHECK(std::string(e.what()).find("offset 3") != std::string::npos);
    }
    // Decoding half a character gives U+FFFD; unknown ids decode to nothing.
    CHECK(tok.decode(Ids{0xE4, 0xB8}) == "\xEF\xBF\xBD");
    CHECK(tok.decode(Ids{'a', -1, 99999, 'b'}) == "ab");
}

TEST_CASE("byte fallback and unk in a character-level BPE") {
    // Llama 2 / Mistral style: characters are symbols, unknown ones fall back to <0xXX>.
    json vocab = {{"<unk>", 0}, {"a", 1}, {"b", 2}, {"ab", 3}};
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        vocab[name] = 4 + b;
    }
    json j = {
        {"added_tokens", json::array()},
        {"normalizer", nullptr},
        {"pre_tokenizer", nullptr},
        {"decoder",
         {{"type", "Sequence"}, {"decoders", json::array({{{"type", "ByteFallback"}}, {{"type", "Fuse"}}})}}},
        {"model",
         {{"type", "BPE"},
          {"unk_token", "<unk>"},
          {"fuse_unk", true},
          {"byte_fallback", true},
          {"vocab", vocab},
          {"merges", json::array({"a b"})}}}};
    BpeTokenizer tok(j.dump());
    CHECK_FALSE(tok.byte_level());
    const Ids euro = {4 + 0xE2, 4 + 0x82, 4 + 0xAC};  // € = E2 82 AC
    CHECK(tok.encode("ab\xE2\x82\xAC"
                     "a") == cat({{3}, euro, {1}}));
    CHECK(tok.decode(tok.encode("ab\xE2\x82\xAC"
                                "ab")) ==
          "ab\xE2\x82\xAC"
          "ab");
    CHECK(tok.decode(Ids{4 + 0xE2, 1}) ==
          "\xEF\xBF\xBD"
          "a");  // a lone lead byte
    // Without byte fallback, unknown characters become <unk>, consecutive ones fused.
    j["model"]["byte_fallback"] = false;
    BpeTokenizer unk(j.dump());
    CHECK(unk.encode("a\xE2\x82\xAC\xE2\x82\xAC"
                     "b") == Ids{1, 0, 2});
    j["model"]["fuse_unk"] = false;
    BpeTokenizer unfused(j.dump());
    CHECK(unfused.encode("a\xE2\x82\xAC\xE2\x82\xAC"
                         "b") == Ids{1, 0, 0, 2});
}

TEST_CASE("malformed tokenizer.json files are rejected with a reason") {
    CHECK_THROWS_AS(BpeTokenizer("{not json"), TokenizerError);
    CHECK_THROWS_AS(BpeTokenizer(R"({"model": {"type": "Unigram", "vocab": []}})"), TokenizerError);
    json j = byte_level_json({{"a", "b"}});
    j["model"]["merges"].push_back("x y z");
    CHECK_THROWS_AS(BpeTokenizer(j.dump()), TokenizerError);
    j = byte_level_json({});
    j["model"]["merges"] = json::array({"a \xC4\xA0zz"});  // "Ġzz" is not in the vocabulary
    CHECK_THROWS_AS(BpeTokenizer(j.dump()), TokenizerError);
    j = byte_level_json({});
    j["normalizer"] = {{"type", "Lowercase"}};
    CHECK_THROWS_AS(BpeTokenizer(j.dump()), TokenizerError);
}

TEST_CASE("streaming a byte-level BPE: characters split across tokens come out whole") {
    BpeTokenizer tok(byte_level_json({{"a", "b"}}).dump());
    const std::string text = "ab \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80!";  // 中文, 😀: one token per byte
    StreamingDecoder dec(tok, {});
    std::string out;
    for (int32_t id : tok.encode(text)) {
        const std::string piece = dec.push(id);
        CHECK(utf8::find_invalid(piece) == utf8::npos);
        out += piece;
    }
    out += dec.flush();
    CHECK(out == text);
    // An EOS-like special token ends the stream without showing up, unless asked for.
    json j = byte_level_json({});
    j["added_tokens"] = json::array({added(300, "<|im_end|>", true)});
    BpeTokenizer with_special(j.dump());
    StreamingDecoder quiet(with_special, {});
    CHECK(quiet.push('o') + quiet.push('k') + quiet.push(300) + quiet.flush() == "ok");
    StreamingDecoder verbose(with_special, {}, DecodeOptions{});
    CHECK(verbose.push('o') + verbose.push(300) + verbose.flush() == "o<|im_end|>");
}

TEST_CASE("one tokenizer, several threads: same ids as one thread") {
    BpeTokenizer tok(byte_level_json({{"t", "h"}, {"th", "e"}, {" ", "the"}, {"i", "n"}}).dump());
    std::vector<std::string> texts;
    for (int k = 0; k < 200; ++k)
        texts.push_back("the thin line " + std::to_string(k * 7919) +
                        " in the \xE4\xB8\xAD\xE6\x96\x87 text, k=" + std::string(size_t(k % 7), ' ') +
                        "it's");
    std::vector<Ids> want;
    for (const auto& t : texts) want.push_back(tok.encode(t));
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (int th = 0; th < 4; ++th)
        threads.emplace_back([&, th] {
            for (int round = 0; round < 20; ++round)
                for (size_t k = 0; k < texts.size(); ++k)
                    if (tok.encode(texts[(k + size_t(th) * 37) % texts.size()]) !=
                        want[(k + size_t(th) * 37) % texts.size()])
                        ++mismatches[size_t(th)];
        });
    for (auto& t : threads) t.join();
    CHECK(mismatches == std::vector<int>(4, 0));
}
