// Normalizers: NFC & co through utf8proc; NFC only touches the stretches that can change.
#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace ember {
namespace {

// A character NFC leaves alone whatever surrounds it: NFC_Quick_Check = Yes (its NFC is
// itself: no canonical decomposition, or one that is not excluded from composition),
// canonical combining class 0 (never reordered), and never the second half of a canonical
// composition (utf8proc marks those with comb_index >= 0x8000; Hangul V and T jamo compose
// algorithmically). NFC can be applied separately to the stretches between such characters.
// Checked code point by code point against utf8proc in tests/tokenizer/test_tokenizer.cpp.
std::string utf8proc_transform(std::string_view text, int options);

bool compute_nfc_inert(char32_t cp) {
    if (cp < 0x300) return true;
    if ((cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2)) return false;
    const utf8proc_property_t* p = utf8proc_get_property(utf8proc_int32_t(cp));
    if (p->combining_class != 0) return false;
    if (p->comb_index != 0xFFFF && p->comb_index >= 0x8000) return false;
    if (p->decomp_seqindex == 0xFFFF || p->decomp_type != 0) return true;  // no canonical decomposition
    // A canonical decomposition NFC does not recompose (singletons such as Å U+212B,
    // composition exclusions) changes the character.
    std::string s;
    utf8::append(s, cp);
    return utf8proc_transform(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE) == s;
}

bool nfc_inert(char32_t cp) {
    // Every canonical decomposition is below U+30000; the table covers that range.
    static const std::vector<uint8_t> table = [] {
        std::vector<uint8_t> t(0x30000);
        for (char32_t c = 0; c < 0x30000; ++c) t[c] = c >= 0xD800 && c < 0xE000 ? 0 : compute_nfc_inert(c);
        return t;
    }();
    return cp < 0x30000 ? table[cp] != 0 : compute_nfc_inert(cp);
}

std::string utf8proc_transform(std::string_view text, int options) {
    utf8proc_uint8_t* dst = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                            utf8proc_ssize_t(text.size()), &dst, utf8proc_option_t(options));
    if (n < 0) throw TokenizerError(std::string("Unicode normalization failed: ") + utf8proc_errmsg(n));
    std::string out(reinterpret_cast<const char*>(dst), size_t(n));
    std::free(dst);
    return out;
}

// NFC of valid UTF-8, running utf8proc only over the stretches that hold a non-inert
// character, each from the inert character before it to the next inert one.
std::string nfc(std::string_view s) {
    std::string out;
    size_t copied = 0;      // s[0, copied) is in out
    size_t last_inert = 0;  // start of the latest inert character (or of the text)
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0xCC) {  // below U+0300: inert
            last_inert = i;
            i += c < 0x80 ? 1 : 2;
            continue;
        }
        char32_t cp = 0;
        size_t bad;
        size_t len = utf8::decode(s, i, cp, bad);
        if (len == 0) len = 1;
        if (nfc_inert(cp)) {
            last_inert = i;
            i += len;
            continue;
        }
        // A stretch to normalize: from the inert character before, up to the next inert one.
        const size_t begin = std::max(last_inert, copied);
        size_t end = i + len;
        while (end < s.size()) {
            const size_t l = utf8::decode(s, end, cp, bad);
            if (l == 0 || nfc_inert(cp)) break;
            end += l;
        }
        if (out.empty()) out.reserve(s.size() + 16);
        out.append(s, copied, begin - copied);
        out += utf8proc_transform(s.substr(begin, end - begin), UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        copied = end;
        last_inert = end;
        i = end;
    }
    if (copied == 0) return std::string(s);
    out.append(s, copied, std::string_view::npos);
    return out;
}

struct UnicodeNormalizer final : Normalizer {
    explicit UnicodeNormalizer(NormalForm f) : form(f) {}
    std::string apply(std::string_view text) const override { return unicode_normalize(text, form); }
    NormalForm form;
};

struct PrependNormalizer final : Normalizer {
    explicit PrependNormalizer(std::string p) : prefix(std::move(p)) {}
    std::string apply(std::string_view text) const override {
        return text.empty() ? std::string() : prefix + std::string(text);
    }
    std::string prefix;
};

struct ReplaceNormalizer final : Normalizer {
    ReplaceNormalizer(std::string p, std::string c) : pattern(std::move(p)), content(std::move(c)) {}
    std::string apply(std::string_view text) const override {
        std::string out;
        size_t i = 0;
        while (true) {
            const size_t k = text.find(pattern, i);
            if (k == std::string_view::npos) break;
            out.append(text, i, k - i);
            out += content;
            i = k + pattern.size();
        }
        out.append(text, i);
        return out;
    }
    std::string pattern, content;
};

struct SequenceNormalizer final : Normalizer {
    std::string apply(std::string_view text) const override {
        std::string s(text);
        for (const auto& n : steps) s = n->apply(s);
        return s;
    }
    std::vector<std::unique_ptr<Normalizer>> steps;
};

}  // namespace

std::string unicode_normalize(std::string_view text, NormalForm form) {
    // ASCII is invariant under every form; NFC works stretch by stretch.
    if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
        return std::string(text);
    if (form == NormalForm::NFC) return nfc(text);
    int options = UTF8PROC_STABLE;
    switch (form) {
        case NormalForm::NFC:
            options |= UTF8PROC_COMPOSE;
            break;
        case NormalForm::NFD:
            options |= UTF8PROC_DECOMPOSE;
            break;
        case NormalForm::NFKC:
            options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
            break;
        case NormalForm::NFKD:
            options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
            break;
    }
    return utf8proc_transform(text, options);
}

bool nfc_inert_for_test(char32_t cp) {
    return nfc_inert(cp);
}

std::unique_ptr<Normalizer> Normalizer::from_json(const nlohmann::json& j) {
    if (j.is_null()) return nullptr;
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        throw TokenizerError("normalizer is not an object with a \"type\": " + j.dump().substr(0, 200));
    const std::string type = j["type"];
    if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalForm::NFC);
    if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalForm::NFD);
    if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalForm::NFKC);
    if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalForm::NFKD);
    if (type == "Prepend" && j.contains("prepend") && j["prepend"].is_string())
        return std::make_unique<PrependNormalizer>(j["prepend"].get<std::string>());
    if (type == "Replace" && j.contains("pattern") && j["pattern"].is_object() &&
        j["pattern"].contains("String") && j["pattern"]["String"].is_string() && j.contains("content") &&
        j["content"].is_string()) {
        std::string pattern = j["pattern"]["String"];
        if (pattern.empty()) throw TokenizerError("normalizer Replace: empty pattern");
        return std::make_unique<ReplaceNormalizer>(std::move(pattern), j["content"].get<std::string>());
    }
    if (type == "Sequence" && j.contains("normalizers") && j["normalizers"].is_array()) {
        auto seq = std::make_unique<SequenceNormalizer>();
        for (const auto& sub : j["normalizers"])
            if (auto n = from_json(sub)) seq->steps.push_back(std::move(n));
        return seq;
    }
    throw TokenizerError(
        "normalizer '" + type +
        "' is not supported (supported: NFC, NFD, NFKC, NFKD, Prepend, Replace with a String "
        "pattern, Sequence)");
}

}  // namespace ember
