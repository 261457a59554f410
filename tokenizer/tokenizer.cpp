// StreamingDecoder: incremental, UTF-8-safe detokenization for any Tokenizer.
#include "tokenizer/tokenizer.h"

namespace ember {
namespace {

// Context ids kept before the generated ones: enough for the decoder to see the spacing
// around the boundary, few enough that re-decoding the window per token stays cheap.
constexpr size_t kContextWindow = 4;
// Ids in the window before we settle the oldest: bounds per-token decode cost for long
// generations. A UTF-8 character spans at most 4 byte-fallback tokens.
constexpr size_t kMaxWindow = 32;

// Length of the longest prefix of s that does not end inside a UTF-8 sequence and has no
// trailing U+FFFD (which SentencePiece emits for an incomplete byte sequence).
size_t complete_prefix(const std::string& s) {
    size_t n = s.size();
    // Back off over a trailing replacement character: more bytes may still complete it.
    while (n >= 3 && s.compare(n - 3, 3, "\xEF\xBF\xBD") == 0) n -= 3;
    // Back off over an unfinished multi-byte sequence.
    size_t i = n;
    size_t cont = 0;
    while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80 && cont < 3) {
        --i;
        ++cont;
    }
    if (i > 0) {
        unsigned char lead = static_cast<unsigned char>(s[i - 1]);
        size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
        if (need > cont) return i - 1;
    }
    return n;
}

}  // namespace

StreamingDecoder::StreamingDecoder(const Tokenizer& tok, std::vector<int32_t> context, DecodeOptions options)
    : tok_(tok), options_(options) {
    if (context.size() > kContextWindow) context.erase(context.begin(), context.end() - kContextWindow);
    ids_ = std::move(context);
    context_bytes_ = tok_.decode(ids_, options_).size();
    emitted_bytes_ = context_bytes_;
}

std::string StreamingDecoder::decoded_tail() const { return tok_.decode(ids_, options_); }

std::string StreamingDecoder::push(int32_t id) {
    ids_.push_back(id);
    std::string text = decoded_tail();
    size_t ready = complete_prefix(text);
    std::string out;
    if (ready > emitted_bytes_) {
        out = text.substr(emitted_bytes_, ready - emitted_bytes_);
        emitted_bytes_ = ready;
    }
    // Slide the window once everything in it is settled: keep the last few ids as context.
    if (ids_.size() > kMaxWindow && ready == text.size()) {
        std::vector<int32_t> keep(ids_.end() - kContextWindow, ids_.end());
        ids_ = std::move(keep);
        emitted_bytes_ = tok_.decode(ids_, options_).size();
    }
    return out;
}

std::string StreamingDecoder::flush() {
    std::string text = decoded_tail();
    std::string out = text.size() > emitted_bytes_ ? text.substr(emitted_bytes_) : std::string();
    emitted_bytes_ = text.size();
    return out;
}

}  // namespace ember
