// Byte-level BPE from a Hugging Face tokenizer.json (Qwen2 / Qwen2.5 / DeepSeek-R1-Distill-
// Qwen, Llama 3, GPT-2 style), reproducing HF tokenizers' ids exactly:
//
//   text --(added tokens cut out: special and non-special)--> pieces
//        --normalizer (NFC ...)--> --pre_tokenizer (Split regexes, ByteLevel)--> words
//        --BPE merges by rank, per word--> ids
//
// Decoding maps ids back to their bytes (ByteLevel decoder) and repairs invalid UTF-8 with
// U+FFFD as HF does. See docs/tokenizers.md for what is supported and how it is tested.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/tokenizer.h"

namespace ember {

class BpeTokenizer final : public Tokenizer {
  public:
    // `tokenizer_json`: the bytes of a tokenizer.json whose model.type is "BPE". Throws
    // TokenizerError naming what is malformed or unsupported.
    explicit BpeTokenizer(std::string_view tokenizer_json);
    ~BpeTokenizer() override;

    // Throws TokenizerError when `text` is not valid UTF-8 (the message gives the byte offset).
    std::vector<int32_t> encode(std::string_view text) const override;
    std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options) const override;
    // Ids the tokenizer does not know decode to nothing (as in HF).
    std::string decode(std::span<const int32_t> ids) const override;
    std::string decode(std::span<const int32_t> ids, const DecodeOptions& options) const override;
    int64_t vocab_size() const override;  // highest id + 1, added tokens included
    std::string_view kind() const override { return "bpe"; }

    // The token's text as tokenizer.json spells it (byte-level alphabet for byte-level
    // vocabularies, "Ġhello"); added tokens give their content. nullopt for unknown ids.
    std::optional<std::string> id_to_token(int32_t id) const;
    // The inverse (added tokens first); nullopt when absent.
    std::optional<int32_t> token_to_id(std::string_view token) const;
    const std::vector<AddedToken>& added_tokens() const;
    bool is_special(int32_t id) const;
    // True when the pre-tokenizer ends with ByteLevel (the vocabulary is byte-level).
    bool byte_level() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace ember
