// Compact lookup tables for a BPE vocabulary of ~150k tokens and as many merges. A node-based
// std::unordered_map<std::string, int> costs ~70 bytes of heap per token; these keep the
// strings in one arena and index them with flat open-addressing tables (a few bytes per entry).
//
//   TokenTable     strings -> id     arena "ĠtheĠaand..." | start[k] | id[k] | slots -> k + 1
//   PairMap        (left id, right id) -> (rank, merged id), keyed by left << 32 | right
//   PackedStrings  id -> string      arena + start offsets, built once in id order
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ember {

class TokenTable {
  public:
    // Inserting a string already present replaces its id (as a JSON object's later duplicate
    // key does). Throws TokenizerError past 4 GiB of text or 2^31 entries.
    void insert(std::string_view text, int32_t id);
    // Room for n entries without rehashing.
    void reserve(size_t n);
    // Bulk loading: append() entries without indexing them, then build_index() once (one
    // hash per entry instead of re-hashing at every growth). A string appended twice keeps
    // its first entry with the later id; the later entry is left dead (id -1).
    void append(std::string_view text, int32_t id);
    void build_index();
    // -1 when absent.
    int32_t find(std::string_view text) const;
    size_t size() const { return ids_.size(); }  // entries, dead ones included
    // Entry k, in insertion order (k < size()); id(k) is -1 for a dead entry.
    std::string_view text(size_t k) const {
        return std::string_view(arena_).substr(start_[k], start_[k + 1] - start_[k]);
    }
    int32_t id(size_t k) const { return ids_[k]; }
    // Drops the spare capacity left by growth (call once filled).
    void shrink_to_fit();
    size_t memory_bytes() const;

  private:
    void rehash(size_t n_slots);
    size_t slot_of(std::string_view text) const;  // the slot holding text, or the empty one to use
    std::string arena_;                  // every entry's text, back to back
    std::vector<uint32_t> start_{0};     // [size() + 1]: entry k is arena_[start_[k], start_[k+1])
    std::vector<int32_t> ids_;           // [size()]
    std::vector<uint32_t> slots_;        // [power of two]: entry + 1, 0 = empty
};

// (left id, right id) -> (rank, merged id): open addressing, linear probing. Looked up several
// times per word, mostly for pairs that are not merges: keys and values are kept apart so a
// probe sequence scans one cache line of keys (8 per line), and the value is read on a hit.
class PairMap {
  public:
    struct Merge {
        uint32_t rank;
        int32_t new_id;
    };
    // Room for n pairs at a load factor of at most 0.6 (clears the map).
    void reserve(size_t n);
    // A later insert of the same pair replaces the earlier (HF collects merges into a map).
    // Ids are vocabulary ids (>= 0).
    void insert(int32_t a, int32_t b, Merge m);
    const Merge* find(int32_t a, int32_t b) const {
        const uint64_t key = pack(a, b);
        if (key == kEmpty) return nullptr;  // (-1, -1): not an id pair, and the empty marker
        for (size_t i = slot(key);; i = (i + 1) & mask_) {
            if (keys_[i] == key) return &merges_[i];
            if (keys_[i] == kEmpty) return nullptr;
        }
    }
    size_t size() const { return size_; }
    size_t memory_bytes() const { return keys_.capacity() * sizeof(uint64_t) + merges_.capacity() * sizeof(Merge); }

  private:
    static constexpr uint64_t kEmpty = ~uint64_t(0);
    static uint64_t pack(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
    size_t slot(uint64_t key) const { return size_t((key * 0x9E3779B97F4A7C15ull) >> 32) & mask_; }
    void grow();
    std::vector<uint64_t> keys_ = std::vector<uint64_t>(1, kEmpty);  // [slots] left << 32 | right
    std::vector<Merge> merges_ = std::vector<Merge>(1, Merge{0, -1});  // [slots]
    size_t mask_ = 0;
    size_t size_ = 0;
};

// Strings numbered 0..n-1 in one arena (per-id token text and decoded bytes).
class PackedStrings {
  public:
    // String k = item(k) for k < n (item is called twice per k: sizes first, then the copy,
    // so the arena is allocated once). Throws TokenizerError past 4 GiB.
    void build(size_t n, const std::function<std::string_view(size_t)>& item);
    std::string_view operator[](size_t k) const {
        return std::string_view(arena_).substr(start_[k], start_[k + 1] - start_[k]);
    }
    size_t size() const { return start_.size() - 1; }
    size_t memory_bytes() const { return arena_.capacity() + start_.capacity() * sizeof(uint32_t); }

  private:
    std::string arena_;
    std::vector<uint32_t> start_{0};  // [size() + 1]
};

}  // namespace ember
