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

struct EncodeOptions {
    // Special added tokens written in the text (`<|im_start|>`, `<|endoftext|>`) become their
    // ids. false: they are tokenized as plain text, like HF's split_special_tokens=True;
    // non-special added tokens are still matched (as in HF).
    bool allow_special = true;
};

struct DecodeOptions {
    // Leave out special tokens (HF skip_special_tokens=True). Default: they decode to their
    // text, as HF's decode does by default.
    bool skip_special = false;
};

class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    // Text -> ids, without BOS/EOS (callers add BOS per the model's add_bos). Throws
    // TokenizerError when the text is not valid UTF-8 (BPE; SentencePiece repairs it).
    virtual std::vector<int32_t> encode(std::string_view text) const = 0;
    // The same with options. The default suits tokenizers the options do not affect
    // (SentencePiece: control tokens are never matched in text and never decoded).
    virtual std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options) const {
        (void)options;
        return encode(text);
    }
    // Ids -> text (valid UTF-8). SentencePiece: control tokens (BOS/EOS) decode to nothing.
    // BPE: special tokens decode to their text unless skipped.
    virtual std::string decode(std::span<const int32_t> ids) const = 0;
    virtual std::string decode(std::span<const int32_t> ids, const DecodeOptions& options) const {
        (void)options;
        return decode(ids);
    }
    virtual int64_t vocab_size() const = 0;
    virtual std::string_view kind() const = 0;  // "sentencepiece", "bpe"
};

// A SentencePiece model given as the bytes of its tokenizer.model file.
std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(std::string_view model_bytes);
// A Hugging Face tokenizer.json with a BPE model (byte-level like GPT-2 / Llama 3 / Qwen2, or
// with byte fallback), given as the file's bytes. tokenizer/bpe_tokenizer.h; docs/tokenizers.md.
std::unique_ptr<Tokenizer> make_bpe_tokenizer(std::string_view tokenizer_json);

// Turns a stream of generated ids into text pieces that are safe to print: every piece is
// complete UTF-8, and spacing is what decoding the whole sequence would give (decoding a
// token alone would drop SentencePiece's leading space, for instance).
class StreamingDecoder {
public:
    // context: the ids before the first generated one (the prompt), which decide spacing.
    // Special tokens (an EOS such as <|im_end|>) are left out of the text by default, as
    // SentencePiece models always do; `options` can keep them.
    StreamingDecoder(const Tokenizer& tok, std::vector<int32_t> context,
                     DecodeOptions options = DecodeOptions{.skip_special = true});
    // Append one id; returns the newly completed text (possibly empty while a multi-byte
    // character is still incomplete).
    std::string push(int32_t id);
    // End of stream: whatever is left, incomplete characters included (as U+FFFD).
    std::string flush();

private:
    std::string decoded_tail() const;
    const Tokenizer& tok_;
    DecodeOptions options_;
    std::vector<int32_t> ids_;  // a short window of context + the generated ids not yet settled
    size_t emitted_bytes_ = 0;  // bytes of decoded_tail() already returned
    size_t context_bytes_ = 0;
};

}  // namespace ember
