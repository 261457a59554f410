// TokenTable, PairMap, PackedStrings: flat tables for the vocabulary and the merges.
#include "tokenizer/token_tables.h"

#include <functional>

#include "tokenizer/tokenizer.h"

namespace ember {
namespace {

size_t hash_text(std::string_view s) { return std::hash<std::string_view>{}(s); }

// Offsets are 32-bit to keep the tables small; a tokenizer past that is not a real one.
uint32_t checked_offset(size_t n, const char* what) {
    if (n > UINT32_MAX) throw TokenizerError(std::string(what) + " exceeds 4 GiB");
    return uint32_t(n);
}

}  // namespace

void TokenTable::insert(std::string_view text, int32_t id) {
    // Load factor at most 0.6: probes stay short (misses too) and Qwen2.5's 151,643 tokens
    // fit 2^18 slots (1 MiB).
    if ((ids_.size() + 1) * 5 > slots_.size() * 3) rehash(slots_.empty() ? 1024 : slots_.size() * 2);
    const size_t s = slot_of(text);
    if (slots_[s] != 0) {
        ids_[slots_[s] - 1] = id;
        return;
    }
    if (ids_.size() >= size_t(INT32_MAX)) throw TokenizerError("the vocabulary has more than 2^31 tokens");
    arena_.append(text);
    start_.push_back(checked_offset(arena_.size(), "the vocabulary's text"));
    ids_.push_back(id);
    slots_[s] = uint32_t(ids_.size());
}

void TokenTable::reserve(size_t n) {
    size_t cap = 1024;
    while (cap * 3 < n * 5) cap <<= 1;  // n <= 0.6 cap
    if (cap > slots_.size()) rehash(cap);
}

void TokenTable::append(std::string_view text, int32_t id) {
    if (ids_.size() >= size_t(INT32_MAX)) throw TokenizerError("the vocabulary has more than 2^31 tokens");
    arena_.append(text);
    start_.push_back(checked_offset(arena_.size(), "the vocabulary's text"));
    ids_.push_back(id);
}

void TokenTable::build_index() {
    size_t cap = 1024;
    while (cap * 3 < ids_.size() * 5) cap <<= 1;
    slots_.assign(cap, 0);
    for (size_t k = 0; k < ids_.size(); ++k) {
        const size_t s = slot_of(text(k));
        if (slots_[s] != 0) {  // a duplicate: the first entry takes the later id
            ids_[slots_[s] - 1] = ids_[k];
            ids_[k] = -1;
        } else {
            slots_[s] = uint32_t(k + 1);
        }
    }
}

int32_t TokenTable::find(std::string_view text) const {
    if (slots_.empty()) return -1;
    const uint32_t e = slots_[slot_of(text)];
    return e ? ids_[e - 1] : -1;
}

size_t TokenTable::slot_of(std::string_view text) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash_text(text) & mask;; i = (i + 1) & mask) {
        const uint32_t e = slots_[i];
        if (e == 0 || this->text(e - 1) == text) return i;
    }
}

void TokenTable::rehash(size_t n_slots) {
    slots_.assign(n_slots, 0);
    const size_t mask = n_slots - 1;
    for (size_t k = 0; k < ids_.size(); ++k) {
        if (ids_[k] < 0) continue;  // dead (see build_index)
        size_t i = hash_text(text(k)) & mask;
        while (slots_[i] != 0) i = (i + 1) & mask;
        slots_[i] = uint32_t(k + 1);
    }
}

void TokenTable::shrink_to_fit() {
    arena_.shrink_to_fit();
    start_.shrink_to_fit();
    ids_.shrink_to_fit();
}

size_t TokenTable::memory_bytes() const {
    return arena_.capacity() + start_.capacity() * sizeof(uint32_t) + ids_.capacity() * sizeof(int32_t) +
           slots_.capacity() * sizeof(uint32_t);
}

void PairMap::reserve(size_t n) {
    size_t cap = 16;
    while (cap * 3 < n * 5) cap <<= 1;  // n <= 0.6 cap
    keys_.assign(cap, kEmpty);
    merges_.assign(cap, Merge{0, -1});
    mask_ = cap - 1;
    size_ = 0;
}

void PairMap::insert(int32_t a, int32_t b, Merge m) {
    if ((size_ + 1) * 5 > keys_.size() * 3) grow();
    const uint64_t key = pack(a, b);
    size_t i = slot(key);
    while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask_;
    if (keys_[i] == kEmpty) ++size_;
    keys_[i] = key;
    merges_[i] = m;
}

void PairMap::grow() {
    const std::vector<uint64_t> old_keys = std::move(keys_);
    const std::vector<Merge> old_merges = std::move(merges_);
    reserve(std::max<size_t>(16, old_keys.size()));  // at least twice the slots
    for (size_t i = 0; i < old_keys.size(); ++i)
        if (old_keys[i] != kEmpty) insert(int32_t(old_keys[i] >> 32), int32_t(uint32_t(old_keys[i])), old_merges[i]);
}

void PackedStrings::build(size_t n, const std::function<std::string_view(size_t)>& item) {
    size_t total = 0;
    for (size_t k = 0; k < n; ++k) total += item(k).size();
    checked_offset(total, "the token texts");
    arena_.clear();
    arena_.reserve(total);
    start_.assign(1, 0);
    start_.reserve(n + 1);
    for (size_t k = 0; k < n; ++k) {
        arena_.append(item(k));
        start_.push_back(uint32_t(arena_.size()));
    }
}

}  // namespace ember
