// Reads a tokenizer.json in one SAX pass (nlohmann::json::sax_parse). model.vocab and
// model.merges, nearly all of the file (Qwen2.5: 151,643 tokens and 151,387 merges in 7 MB),
// go straight into compact tables; everything else (normalizer, pre_tokenizer, decoder,
// added_tokens, the rest of "model") becomes a small nlohmann::json DOM. A full DOM of the file
// would cost tens of MB of short-lived heap nodes and most of the load time.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/token_tables.h"

namespace ember {

// model.merges as text, in file order ("#version" lines left out). Resolved to ids only once
// the whole vocabulary is known, since nothing orders "vocab" before "merges" in the file.
class MergeTexts {
  public:
    void push(std::string_view left, std::string_view right);
    size_t size() const { return left_size_.size(); }
    std::string_view left(size_t k) const { return merged(k).substr(0, left_size_[k]); }
    std::string_view right(size_t k) const { return merged(k).substr(left_size_[k]); }
    // left + right, the merge's result token.
    std::string_view merged(size_t k) const {
        return std::string_view(arena_).substr(start_[k], start_[k + 1] - start_[k]);
    }

  private:
    std::string arena_;                // left and right of every merge, back to back
    std::vector<uint32_t> start_{0};   // [size() + 1]
    std::vector<uint32_t> left_size_;  // [size()]
};

struct TokenizerJson {
    nlohmann::json rest;       // the document without model.vocab and model.merges
    bool has_vocab = false;    // model.vocab was an object (read into `vocab`)
    TokenTable vocab;          // token text as the file spells it -> id
    int32_t max_vocab_id = -1;
    bool has_merges = false;   // model.merges was a list (read into `merges`)
    MergeTexts merges;
};

// Throws TokenizerError naming the problem: a syntax error (with nlohmann's position), a
// vocab entry whose id is not an integer in [0, 2^31), a merge that is neither "a b" nor
// ["a", "b"].
TokenizerJson read_tokenizer_json(std::string_view text);

}  // namespace ember
