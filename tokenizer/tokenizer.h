// Text <-> token ids, one interface for every tokenizer kind. tokenizer/ knows nothing of
// kernels or models; the runtime picks an implementation from the .ember header.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ember {

struct TokenizerError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    // Text -> ids, without BOS/EOS (callers add BOS per the model's add_bos).
    virtual std::vector<int32_t> encode(std::string_view text) const = 0;
    // Ids -> text. Control tokens (BOS/EOS) decode to nothing.
    virtual std::string decode(std::span<const int32_t> ids) const = 0;
    virtual int64_t vocab_size() const = 0;
    virtual std::string_view kind() const = 0;  // "sentencepiece", ...
};

// A SentencePiece model given as the bytes of its tokenizer.model file.
std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(std::string_view model_bytes);

// Turns a stream of generated ids into text pieces that are safe to print: every piece is
// complete UTF-8, and spacing is what decoding the whole sequence would give (decoding a
// token alone would drop SentencePiece's leading space, for instance).
class StreamingDecoder {
public:
    // context: the ids before the first generated one (the prompt), which decide spacing.
    StreamingDecoder(const Tokenizer& tok, std::vector<int32_t> context);
    // Append one id; returns the newly completed text (possibly empty while a multi-byte
    // character is still incomplete).
    std::string push(int32_t id);
    // End of stream: whatever is left, incomplete characters included (as U+FFFD).
    std::string flush();

private:
    std::string decoded_tail() const;
    const Tokenizer& tok_;
    std::vector<int32_t> ids_;  // a short window of context + the generated ids not yet settled
    size_t emitted_bytes_ = 0;  // bytes of decoded_tail() already returned
    size_t context_bytes_ = 0;
};

}  // namespace ember
