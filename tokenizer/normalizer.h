// tokenizer.json "normalizer": Unicode normalization (utf8proc) and simple rewrites, applied
// to the text between added tokens before pre-tokenization.
#pragma once
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ember {

class Normalizer {
  public:
    // From the JSON value (null = none: returns nullptr). Supported: NFC, NFD, NFKC, NFKD,
    // Prepend, Replace (String pattern), Sequence. Throws TokenizerError for anything else.
    static std::unique_ptr<Normalizer> from_json(const nlohmann::json& j);
    virtual ~Normalizer() = default;
    // text is valid UTF-8; so is the result.
    virtual std::string apply(std::string_view text) const = 0;
};

// Unicode normalization forms through utf8proc (Unicode 15 in utf8proc 2.8).
enum class NormalForm { NFC, NFD, NFKC, NFKD };
std::string unicode_normalize(std::string_view text, NormalForm form);
// For tests: whether NFC leaves `cp` alone whatever surrounds it (see normalizer.cpp).
bool nfc_inert_for_test(char32_t cp);

}  // namespace ember
