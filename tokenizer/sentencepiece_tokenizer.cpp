// SentencePiece models (Llama 2, TinyLlama, stories260K) through libsentencepiece.
#include <sentencepiece_processor.h>

#include "tokenizer/tokenizer.h"

namespace ember {
namespace {

class SentencePieceTokenizer final : public Tokenizer {
public:
    explicit SentencePieceTokenizer(std::string_view model_bytes) {
        auto status = sp_.LoadFromSerializedProto(model_bytes);
        if (!status.ok()) throw TokenizerError("cannot load SentencePiece model: " + status.ToString());
    }

    std::vector<int32_t> encode(std::string_view text) const override {
        std::vector<int> ids;
        auto status = sp_.Encode(text, &ids);
        if (!status.ok()) throw TokenizerError("SentencePiece encode failed: " + status.ToString());
        return {ids.begin(), ids.end()};
    }

    std::string decode(std::span<const int32_t> ids) const override {
        std::vector<int> v;
        v.reserve(ids.size());
        for (int32_t id : ids) {
            if (id < 0 || id >= sp_.GetPieceSize())
                throw TokenizerError("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                                     std::to_string(sp_.GetPieceSize()) + ")");
            v.push_back(id);
        }
        std::string out;
        auto status = sp_.Decode(v, &out);
        if (!status.ok()) throw TokenizerError("SentencePiece decode failed: " + status.ToString());
        return out;
    }

    int64_t vocab_size() const override { return sp_.GetPieceSize(); }
    std::string_view kind() const override { return "sentencepiece"; }

private:
    sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(std::string_view model_bytes) {
    return std::make_unique<SentencePieceTokenizer>(model_bytes);
}

}  // namespace ember
