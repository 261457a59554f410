// BPE tokenizer.json: loading, the encode pipeline and the merge loop, decoding.
#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/token_tables.h"
#include "tokenizer/tokenizer_json_reader.h"
#include "tokenizer/utf8.h"

namespace ember {
namespace {

using nlohmann::json;

// FNV-1a over 8-byte chunks: cheap for the short words BPE sees, good enough for a cache.
struct WordHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
        uint64_t h = 0xcbf29ce484222325ull ^ s.size();
        size_t i = 0;
        for (; i + 8 <= s.size(); i += 8) {
            uint64_t w;
            std::memcpy(&w, s.data() + i, 8);
            h = (h ^ w) * 0x100000001b3ull;
            h ^= h >> 29;
        }
        uint64_t tail = 0;
        std::memcpy(&tail, s.data() + i, s.size() - i);
        h = (h ^ tail) * 0x100000001b3ull;
        return size_t(h ^ (h >> 32));
    }
};

// Words already split into ids, per thread (no locking on the hot path). A thread's cache
// belongs to one tokenizer at a time, identified by a process-unique id (not an address,
// which a later tokenizer could reuse); using another tokenizer on the thread starts afresh.
// Cleared when full.
class WordCache {
  public:
    static constexpr size_t kMaxWordBytes = 256;  // as HF: longer words are not cached
    static constexpr size_t kCapacity = 1 << 16;

    using Map = std::unordered_map<std::string, std::vector<int32_t>, WordHash, std::equal_to<>>;

    // The calling thread's cache for tokenizer `owner`.
    static Map& for_thread(uint64_t owner) {
        thread_local uint64_t current = 0;
        thread_local Map map;
        if (current != owner) {
            map.clear();
            current = owner;
        }
        if (map.size() >= kCapacity) map.clear();
        return map;
    }
    static uint64_t new_owner_id() {
        static std::atomic<uint64_t> next{1};
        return next++;
    }
};

// One step of the tokenizer.json "decoder".
struct DecoderStep {
    enum Kind { ByteLevel, ByteFallback, Fuse, Replace, Strip } kind;
    std::string pattern, content;  // Replace
    char32_t strip_char = 0;       // Strip
    size_t strip_start = 0, strip_stop = 0;
};

const json& field(const json& obj, const char* key) {
    static const json null_value;
    auto it = obj.find(key);
    return it == obj.end() ? null_value : *it;
}

bool bool_field(const json& obj, const char* key, bool fallback, const char* where) {
    const json& v = field(obj, key);
    if (v.is_null()) return fallback;
    if (!v.is_boolean()) throw TokenizerError(std::string(where) + " field '" + key + "' is not a boolean");
    return v.get<bool>();
}

std::string hex_byte(unsigned b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    return buf;
}

// HF ByteLevel decoder, one token: its characters' bytes if all are in the byte-level
// alphabet, else the token's own UTF-8.
std::string byte_level_token_bytes(const std::string& token) {
    auto raw = byte_level::decode(token);
    return raw ? std::move(*raw) : token;
}

std::vector<DecoderStep> parse_decoder(const json& j) {
    std::vector<DecoderStep> steps;
    if (j.is_null()) return steps;
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        throw TokenizerError("decoder is not an object with a \"type\"");
    const std::string type = j["type"];
    if (type == "Sequence") {
        const json& list = field(j, "decoders");
        if (!list.is_array()) throw TokenizerError("decoder Sequence has no \"decoders\" list");
        for (const auto& sub : list) {
            auto more = parse_decoder(sub);
            steps.insert(steps.end(), more.begin(), more.end());
        }
        return steps;
    }
    DecoderStep s{};
    if (type == "ByteLevel") {
        s.kind = DecoderStep::ByteLevel;
    } else if (type == "ByteFallback") {
        s.kind = DecoderStep::ByteFallback;
    } else if (type == "Fuse") {
        s.kind = DecoderStep::Fuse;
    } else if (type == "Replace") {
        s.kind = DecoderStep::Replace;
        const json& pat = field(j, "pattern");
        if (!pat.is_object() || !field(pat, "String").is_string() || !field(j, "content").is_string())
            throw TokenizerError("decoder Replace: only {\"String\": ...} patterns are supported");
        s.pattern = pat["String"];
        s.content = j["content"];
        if (s.pattern.empty()) throw TokenizerError("decoder Replace: empty pattern");
    } else if (type == "Strip") {
        s.kind = DecoderStep::Strip;
        const json& c = field(j, "content");
        if (!c.is_string()) throw TokenizerError("decoder Strip: \"content\" is not a string");
        const std::string cs = c;
        char32_t cp = 0;
        size_t bad;
        if (cs.empty() || utf8::decode(cs, 0, cp, bad) != cs.size())
            throw TokenizerError("decoder Strip: \"content\" is not one character");
        s.strip_char = cp;
        s.strip_start = field(j, "start").is_number_unsigned() ? j["start"].get<size_t>() : 0;
        s.strip_stop = field(j, "stop").is_number_unsigned() ? j["stop"].get<size_t>() : 0;
    } else {
        throw TokenizerError(
            "decoder '" + type +
            "' is not supported (supported: ByteLevel, ByteFallback, Fuse, Replace, Strip, Sequence)");
    }
    steps.push_back(std::move(s));
    return steps;
}

std::vector<char32_t> to_code_points(const std::string& s) {
    std::vector<char32_t> cps;
    for (size_t i = 0; i < s.size();) {
        char32_t cp;
        size_t bad;
        const size_t len = utf8::decode(s, i, cp, bad);
        cps.push_back(len ? cp : 0xFFFD);
        i += len ? len : bad;
    }
    return cps;
}

void apply_decoder_step(const DecoderStep& d, std::vector<std::string>& toks) {
    switch (d.kind) {
        case DecoderStep::ByteLevel: {
            std::string bytes;
            for (const auto& t : toks) bytes += byte_level_token_bytes(t);
            toks.assign(1, utf8::repair(std::move(bytes)));
            break;
        }
        case DecoderStep::ByteFallback: {
            std::vector<std::string> out;
            std::string pending;  // consecutive <0xXX> bytes
            size_t pending_count = 0;
            auto flush = [&] {
                if (!pending_count) return;
                if (utf8::find_invalid(pending) == utf8::npos)
                    out.push_back(pending);
                else
                    for (size_t k = 0; k < pending_count; ++k) out.emplace_back("\xEF\xBF\xBD");
                pending.clear();
                pending_count = 0;
            };
            for (auto& t : toks) {
                auto hex = [](char c) {
                    return c >= '0' && c <= '9'   ? c - '0'
                           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                  : -1;
                };
                const bool is_byte =
                    t.size() == 6 && t.starts_with("<0x") && t[5] == '>' && hex(t[3]) >= 0 && hex(t[4]) >= 0;
                if (is_byte) {
                    pending += char(hex(t[3]) * 16 + hex(t[4]));
                    ++pending_count;
                } else {
                    flush();
                    out.push_back(std::move(t));
                }
            }
            flush();
            toks = std::move(out);
            break;
        }
        case DecoderStep::Fuse: {
            std::string all;
            for (const auto& t : toks) all += t;
            toks.assign(1, std::move(all));
            break;
        }
        case DecoderStep::Replace:
            for (auto& t : toks) {
                std::string out;
                size_t i = 0;
                for (size_t k; (k = t.find(d.pattern, i)) != std::string::npos; i = k + d.pattern.size())
                    out.append(t, i, k - i).append(d.content);
                out.append(t, i);
                t = std::move(out);
            }
            break;
        case DecoderStep::Strip:
            for (auto& t : toks) {
                const std::vector<char32_t> cps = to_code_points(t);
                size_t start = 0, stop = cps.size();
                while (start < std::min(d.strip_start, cps.size()) && cps[start] == d.strip_char) ++start;
                size_t taken = 0;
                while (taken < d.strip_stop && stop > start && cps[stop - 1] == d.strip_char) {
                    --stop;
                    ++taken;
                }
                std::string out;
                for (size_t k = start; k < stop; ++k) utf8::append(out, cps[k]);
                t = std::move(out);
            }
            break;
    }
}

}  // namespace

struct BpeTokenizer::Impl {
    // ---- model ----
    bool byte_level = false;              // model space = raw bytes (vocabulary decoded from the alphabet)
    TokenTable vocab;                     // token text as in the file -> id
    TokenTable byte_vocab;                // byte_level only: the token's bytes -> id
    std::array<int32_t, 256> byte_ids{};  // byte_level: the id of each single byte
    std::array<int32_t, 256> byte_fallback_ids{};  // <0xXX> tokens, when byte_fallback
    PairMap merges;
    bool ignore_merges = false, byte_fallback = false, fuse_unk = false;
    std::string unk_token;  // empty = none
    int32_t unk_id = -1;

    // ---- added tokens, normalizer, pre-tokenizer, decoder ----
    std::vector<AddedToken> added;
    std::unordered_map<int32_t, size_t> added_by_id;
    AddedTokenMatcher raw_matcher, normalized_matcher;
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> pre;
    std::vector<DecoderStep> decoder;
    bool byte_level_decoder_only = false;

    // ---- per id ----
    int64_t n_ids = 0;
    PackedStrings id_text;  // [n_ids] token text (added: content); empty for holes
    std::vector<uint8_t> id_known, id_special;
    PackedStrings id_bytes;  // [n_ids] byte_level_decoder_only: what the id decodes to

    const uint64_t cache_owner = WordCache::new_owner_id();

    const TokenTable& model_vocab() const { return byte_level ? byte_vocab : vocab; }

    void load(std::string_view text);
    void tokenize_word(std::string_view word, std::vector<int32_t>& out) const;
    void merge_word(std::string_view word, std::vector<int32_t>& out) const;
    void encode_plain(std::string_view piece, Words& words, std::vector<int32_t>& out) const {
        words.clear();
        words.words.reserve(piece.size() / 4);
        pre->split(piece, words);
        for (std::string_view w : words.words) tokenize_word(w, out);
    }
};

void BpeTokenizer::Impl::load(std::string_view text) {
    TokenizerJson file = read_tokenizer_json(text);
    const json& j = file.rest;
    if (!j.is_object()) throw TokenizerError("tokenizer.json is not a JSON object");
    const json& model = field(j, "model");
    if (!model.is_object()) throw TokenizerError("tokenizer.json has no \"model\" object");
    const json& type = field(model, "type");
    if (!type.is_null() && type != "BPE")
        throw TokenizerError("tokenizer.json model type " + type.dump() + " is not supported (only \"BPE\")");
    if (!file.has_vocab) throw TokenizerError("tokenizer.json model has no \"vocab\" object");
    if (!file.has_merges) throw TokenizerError("tokenizer.json model has no \"merges\" list");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
        const json& v = field(model, key);
        if (!v.is_null() && !(v.is_string() && v.get<std::string>().empty()))
            throw TokenizerError(std::string("tokenizer.json model.") + key + " " + v.dump() +
                                 " is not supported");
    }
    ignore_merges = bool_field(model, "ignore_merges", false, "model");
    byte_fallback = bool_field(model, "byte_fallback", false, "model");
    fuse_unk = bool_field(model, "fuse_unk", false, "model");
    if (field(model, "unk_token").is_string()) unk_token = model["unk_token"];

    normalizer = Normalizer::from_json(field(j, "normalizer"));
    pre = PreTokenizer::from_json(field(j, "pre_tokenizer"));
    byte_level = pre->byte_level();
    decoder = parse_decoder(field(j, "decoder"));
    byte_level_decoder_only = decoder.size() == 1 && decoder[0].kind == DecoderStep::ByteLevel;

    // Vocabulary (read by read_tokenizer_json, ids checked there).
    vocab = std::move(file.vocab);
    int32_t max_id = file.max_vocab_id;
    byte_ids.fill(-1);
    byte_fallback_ids.fill(-1);
    if (byte_level) {
        byte_vocab.reserve(vocab.size());
        for (size_t k = 0; k < vocab.size(); ++k)
            if (vocab.id(k) < 0) {
                continue;  // a duplicate's dead entry
            } else if (auto raw = byte_level::decode(vocab.text(k)))
                byte_vocab.insert(*raw, vocab.id(k));  // others are unreachable
        byte_vocab.shrink_to_fit();
        for (int b = 0; b < 256; ++b) byte_ids[size_t(b)] = byte_vocab.find(std::string(1, char(b)));
    }
    if (byte_fallback)
        for (unsigned b = 0; b < 256; ++b) byte_fallback_ids[b] = vocab.find(hex_byte(b));
    if (!unk_token.empty()) unk_id = vocab.find(unk_token);

    // Merges: rank = position in the list.
    merges.reserve(file.merges.size());
    for (size_t k = 0; k < file.merges.size(); ++k) {
        auto lookup = [&](std::string_view t) {
            const int32_t id = vocab.find(t);
            if (id < 0)
                throw TokenizerError("tokenizer.json merge " + std::to_string(k + 1) + ": token " +
                                     json(std::string(t)).dump() + " is not in the vocabulary");
            return id;
        };
        const int32_t ia = lookup(file.merges.left(k)), ib = lookup(file.merges.right(k)),
                      inew = lookup(file.merges.merged(k));
        merges.insert(ia, ib, {uint32_t(k), inew});
    }
    {
        // Free the merge texts before the per-id tables are built (a move steals the arena;
        // assigning an empty one would keep its capacity).
        [[maybe_unused]] MergeTexts released = std::move(file.merges);
    }

    // Added tokens.
    const json& added_list = field(j, "added_tokens");
    if (!added_list.is_null() && !added_list.is_array())
        throw TokenizerError("tokenizer.json added_tokens is not a list");
    if (added_list.is_array())
        for (const json& t : added_list) {
            if (!t.is_object() || !field(t, "id").is_number_integer() || !field(t, "content").is_string() ||
                t["id"].get<int64_t>() < 0 || t["id"].get<int64_t>() > INT32_MAX)
                throw TokenizerError("tokenizer.json added token " + t.dump().substr(0, 200) +
                                     " needs an \"id\" and a \"content\"");
            AddedToken a;
            a.id = t["id"];
            a.content = t["content"];
            a.single_word = bool_field(t, "single_word", false, "added token");
            a.lstrip = bool_field(t, "lstrip", false, "added token");
            a.rstrip = bool_field(t, "rstrip", false, "added token");
            a.special = bool_field(t, "special", false, "added token");
            a.normalized = bool_field(t, "normalized", !a.special, "added token");
            if (a.content.empty()) continue;
            if (utf8::find_invalid(a.content) != utf8::npos)
                throw TokenizerError("tokenizer.json added token " + std::to_string(a.id) +
                                     " is not valid UTF-8");
            max_id = std::max(max_id, a.id);
            added.push_back(std::move(a));
        }
    // HF keeps one entry per content and per id: the last definition wins.
    for (size_t k = 0; k < added.size(); ++k) added_by_id[added[k].id] = k;
    {
        std::vector<std::string> raw_patterns, norm_patterns;
        std::vector<size_t> raw_idx, norm_idx;
        for (const auto& [id, k] : added_by_id) {
            (void)id;
            const AddedToken& a = added[k];
            if (a.normalized) {
                norm_patterns.push_back(normalizer ? normalizer->apply(a.content) : a.content);
                norm_idx.push_back(k);
            } else {
                raw_patterns.push_back(a.content);
                raw_idx.push_back(k);
            }
        }
        raw_matcher.build(added, raw_patterns, raw_idx);
        normalized_matcher.build(added, norm_patterns, norm_idx);
    }

    // Per-id tables. A token listed twice under one id keeps its later spelling. Ids are
    // dense in real files (a few holes at most); a stray huge id would make every per-id
    // table gigabytes, so it is an error.
    n_ids = int64_t(max_id) + 1;
    const int64_t n_tokens = int64_t(vocab.size() + added.size());
    if (n_ids > 4 * n_tokens + 65536)
        throw TokenizerError("tokenizer.json token id " + std::to_string(max_id) + " is far beyond its " +
                             std::to_string(n_tokens) + " tokens (ids must be dense)");
    const size_t n = size_t(n_ids);
    constexpr int32_t kAdded = -2;
    std::vector<int32_t> entry(n, -1);  // [n_ids] vocab entry of the id, kAdded, or -1 (a hole)
    for (size_t k = 0; k < vocab.size(); ++k)
        if (vocab.id(k) >= 0) entry[size_t(vocab.id(k))] = int32_t(k);
    for (const auto& [id, k] : added_by_id) entry[size_t(id)] = kAdded;
    id_known.assign(n, 0);
    id_special.assign(n, 0);
    for (size_t id = 0; id < n; ++id) id_known[id] = entry[id] != -1;
    for (const auto& [id, k] : added_by_id) id_special[size_t(id)] = added[k].special;
    id_text.build(n, [&](size_t id) -> std::string_view {
        if (entry[id] == kAdded) return added[added_by_id.at(int32_t(id))].content;
        return entry[id] >= 0 ? vocab.text(size_t(entry[id])) : std::string_view();
    });
    if (byte_level_decoder_only) {
        // Byte-level vocabularies were decoded into byte_vocab already; the rest (added tokens,
        // tokens outside the alphabet, a ByteLevel decoder without the pre-tokenizer) here.
        std::vector<int32_t> byte_entry(n, -1);  // [n_ids] byte_vocab entry of the id, or -1
        for (size_t k = 0; k < byte_vocab.size(); ++k)
            if (byte_vocab.id(k) >= 0) byte_entry[size_t(byte_vocab.id(k))] = int32_t(k);
        std::string scratch;
        id_bytes.build(n, [&](size_t id) -> std::string_view {
            if (entry[id] == -1) return {};
            if (entry[id] != kAdded && byte_entry[id] >= 0) return byte_vocab.text(size_t(byte_entry[id]));
            scratch = byte_level_token_bytes(std::string(id_text[id]));
            return scratch;
        });
    }
}

void BpeTokenizer::Impl::tokenize_word(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    if (ignore_merges) {
        const int32_t id = model_vocab().find(word);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
    }
    if (word.size() == 1 && byte_level && byte_ids[static_cast<unsigned char>(word[0])] >= 0) {
        out.push_back(byte_ids[static_cast<unsigned char>(word[0])]);
        return;
    }
    if (word.size() >= WordCache::kMaxWordBytes) {
        merge_word(word, out);
        return;
    }
    WordCache::Map& cache = WordCache::for_thread(cache_owner);
    if (auto it = cache.find(word); it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
    }
    const size_t before = out.size();
    merge_word(word, out);
    cache.emplace(std::string(word), std::vector<int32_t>(out.begin() + long(before), out.end()));
}

namespace {

struct Symbol {
    int32_t id;
    int32_t prev, next;  // neighbours in the current segmentation, -1 at the ends
    bool alive;
};

struct Candidate {
    uint32_t rank;
    int32_t pos;  // the left symbol
    int32_t new_id;
};

// Heap order: lowest rank first, then leftmost (HF's Merge ordering).
struct LowerPriority {
    bool operator()(const Candidate& a, const Candidate& b) const {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    }
};

}  // namespace

void BpeTokenizer::Impl::merge_word(std::string_view word, std::vector<int32_t>& out) const {
    thread_local std::vector<Symbol> syms;
    thread_local std::vector<Candidate> heap;
    syms.clear();
    heap.clear();
    auto add = [&](int32_t id) {
        const int32_t k = int32_t(syms.size());
        if (k > 0) syms.back().next = k;
        syms.push_back({id, k - 1, -1, true});
    };

    // Initial symbols: bytes (byte-level) or characters, with HF's byte fallback and unk rules.
    int32_t pending_unk = -1;
    auto unknown_unit = [&](std::string_view unit_text) {
        if (byte_fallback) {
            bool all = true;
            for (unsigned char b : unit_text) all = all && byte_fallback_ids[b] >= 0;
            if (all) {
                for (unsigned char b : unit_text) add(byte_fallback_ids[b]);
                return;
            }
        }
        if (!unk_token.empty()) {
            if (unk_id < 0)
                throw TokenizerError("the unk token " + json(unk_token).dump() + " is not in the vocabulary");
            if (pending_unk >= 0 && !fuse_unk) add(pending_unk);
            pending_unk = unk_id;
        }
        // No byte fallback and no unk token: HF drops the character.
    };
    auto known_unit = [&](int32_t id) {
        if (pending_unk >= 0) {
            add(pending_unk);
            pending_unk = -1;
        }
        add(id);
    };
    if (byte_level) {
        for (unsigned char b : word) {
            if (byte_ids[b] >= 0)
                known_unit(byte_ids[b]);
            else
                unknown_unit(byte_level::encode(std::string_view(reinterpret_cast<const char*>(&b), 1)));
        }
    } else {
        const TokenTable& v = model_vocab();
        for (size_t i = 0; i < word.size();) {
            char32_t cp;
            size_t bad;
            size_t len = utf8::decode(word, i, cp, bad);
            if (len == 0) len = bad;
            const std::string_view unit = word.substr(i, len);
            const int32_t id = v.find(unit);
            if (id >= 0)
                known_unit(id);
            else
                unknown_unit(unit);
            i += len;
        }
    }
    if (pending_unk >= 0) add(pending_unk);
    if (syms.empty()) return;

    // Merge loop: repeatedly apply the lowest-ranked merge present (leftmost on ties).
    for (size_t k = 0; k + 1 < syms.size(); ++k)
        if (const PairMap::Merge* m = merges.find(syms[k].id, syms[k + 1].id))
            heap.push_back({m->rank, int32_t(k), m->new_id});
    std::make_heap(heap.begin(), heap.end(), LowerPriority{});
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), LowerPriority{});
        const Candidate top = heap.back();
        heap.pop_back();
        Symbol& left = syms[size_t(top.pos)];
        if (!left.alive || left.next < 0) continue;
        Symbol& right = syms[size_t(left.next)];
        // Stale entry: the pair at this position changed since it was queued.
        const PairMap::Merge* m = merges.find(left.id, right.id);
        if (!m || m->new_id != top.new_id) continue;
        left.id = top.new_id;
        left.next = right.next;
        right.alive = false;
        if (right.next >= 0) syms[size_t(right.next)].prev = top.pos;
        if (left.prev >= 0)
            if (const PairMap::Merge* mp = merges.find(syms[size_t(left.prev)].id, left.id)) {
                heap.push_back({mp->rank, left.prev, mp->new_id});
                std::push_heap(heap.begin(), heap.end(), LowerPriority{});
            }
        if (left.next >= 0)
            if (const PairMap::Merge* mn = merges.find(left.id, syms[size_t(left.next)].id)) {
                heap.push_back({mn->rank, top.pos, mn->new_id});
                std::push_heap(heap.begin(), heap.end(), LowerPriority{});
            }
    }
    for (int32_t k = 0; k >= 0; k = syms[size_t(k)].next) out.push_back(syms[size_t(k)].id);
}

BpeTokenizer::BpeTokenizer(std::string_view tokenizer_json) : impl_(std::make_unique<Impl>()) {
    impl_->load(tokenizer_json);
}

BpeTokenizer::~BpeTokenizer() = default;

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
    return encode(text, EncodeOptions{});
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, const EncodeOptions& options) const {
    const size_t bad = utf8::find_invalid(text);
    if (bad != utf8::npos) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "the text is not valid UTF-8 (byte 0x%02X at offset %zu)",
                      static_cast<unsigned char>(text[bad]), bad);
        throw TokenizerError(buf);
    }
    const Impl& m = *impl_;
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    Words words;
    const bool skip_special = !options.allow_special;
    m.raw_matcher.split(text, skip_special, [&](std::string_view piece, int32_t id) {
        if (id >= 0) {
            ids.push_back(id);
            return;
        }
        std::string normalized;
        if (m.normalizer) {
            normalized = m.normalizer->apply(piece);
            piece = normalized;
        }
        if (m.normalized_matcher.empty()) {
            m.encode_plain(piece, words, ids);
            return;
        }
        m.normalized_matcher.split(piece, skip_special, [&](std::string_view p, int32_t id2) {
            if (id2 >= 0)
                ids.push_back(id2);
            else
                m.encode_plain(p, words, ids);
        });
    });
    return ids;
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids) const {
    return decode(ids, DecodeOptions{});
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids, const DecodeOptions& options) const {
    const Impl& m = *impl_;
    auto usable = [&](int32_t id) {
        return id >= 0 && id < m.n_ids && m.id_known[size_t(id)] &&
               !(options.skip_special && m.id_special[size_t(id)]);
    };
    if (m.byte_level_decoder_only) {
        std::string bytes;
        for (int32_t id : ids)
            if (usable(id)) bytes += m.id_bytes[size_t(id)];
        return utf8::repair(std::move(bytes));
    }
    std::vector<std::string> toks;
    for (int32_t id : ids)
        if (usable(id)) toks.emplace_back(m.id_text[size_t(id)]);
    std::string out;
    if (m.decoder.empty()) {  // HF without a decoder: tokens joined by spaces
        for (size_t k = 0; k < toks.size(); ++k) out += (k ? " " : "") + toks[k];
        return utf8::repair(std::move(out));
    }
    for (const DecoderStep& d : m.decoder) apply_decoder_step(d, toks);
    for (const auto& t : toks) out += t;
    return utf8::repair(std::move(out));
}

int64_t BpeTokenizer::vocab_size() const {
    return impl_->n_ids;
}

std::optional<std::string> BpeTokenizer::id_to_token(int32_t id) const {
    if (id < 0 || id >= impl_->n_ids || !impl_->id_known[size_t(id)]) return std::nullopt;
    return std::string(impl_->id_text[size_t(id)]);
}

std::optional<int32_t> BpeTokenizer::token_to_id(std::string_view token) const {
    for (const auto& [id, k] : impl_->added_by_id)
        if (impl_->added[k].content == token) return id;
    const int32_t id = impl_->vocab.find(token);
    if (id < 0) return std::nullopt;
    return id;
}

const std::vector<AddedToken>& BpeTokenizer::added_tokens() const {
    return impl_->added;
}

bool BpeTokenizer::is_special(int32_t id) const {
    return id >= 0 && id < impl_->n_ids && impl_->id_special[size_t(id)];
}

bool BpeTokenizer::byte_level() const {
    return impl_->byte_level;
}

std::unique_ptr<Tokenizer> make_bpe_tokenizer(std::string_view tokenizer_json) {
    return std::make_unique<BpeTokenizer>(tokenizer_json);
}

}  // namespace ember
