// StreamingDecoder never emits half a UTF-8 character and reproduces the full decode.
#include <doctest/doctest.h>

#include "tokenizer/tokenizer.h"

using namespace ember;

namespace {
// A byte tokenizer: id = byte value. Decoding replaces an incomplete trailing UTF-8
// sequence with U+FFFD, as SentencePiece's byte fallback does.
class ByteTokenizer : public Tokenizer {
public:
    std::vector<int32_t> encode(std::string_view text) const override {
        std::vector<int32_t> ids;
        for (unsigned char c : text) ids.push_back(c);
        return ids;
    }
    std::string decode(std::span<const int32_t> ids) const override {
        std::string s;
        for (int32_t id : ids) s.push_back(char(id));
        // Replace a trailing incomplete sequence.
        size_t i = s.size(), cont = 0;
        while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i, ++cont;
        if (i > 0) {
            unsigned char lead = static_cast<unsigned char>(s[i - 1]);
            size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
            if (need > cont) s = s.substr(0, i - 1) + "\xEF\xBF\xBD";
        }
        return s;
    }
    int64_t vocab_size() const override { return 256; }
    std::string_view kind() const override { return "bytes"; }
};

bool valid_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}
}  // namespace

TEST_CASE("pieces are whole characters and concatenate to the full text") {
    ByteTokenizer tok;
    // ASCII, 2-, 3- and 4-byte characters (e, é, 中, 😀), long enough to slide the window.
    std::string text;
    for (int i = 0; i < 20; ++i) text += "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80 ";
    StreamingDecoder dec(tok, tok.encode("prompt "));
    std::string out;
    for (int32_t id : tok.encode(text)) {
        std::string piece = dec.push(id);
        CHECK(valid_utf8(piece));
        out += piece;
    }
    out += dec.flush();
    CHECK(out == text);
}

TEST_CASE("an unfinished character at the end is flushed as U+FFFD, not dropped") {
    ByteTokenizer tok;
    StreamingDecoder dec(tok, {});
    CHECK(dec.push('x') == "x");
    CHECK(dec.push(0xE4) == "");
    CHECK(dec.push(0xB8) == "");
    CHECK(dec.flush() == "\xEF\xBF\xBD");
}
