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
    slots_.assign(cap, Slot{kEmpty, {0, -1}});
    mask_ = cap - 1;
    size_ = 0;
}

void PairMap::insert(int32_t a, int32_t b, Merge m) {
    if ((size_ + 1) * 5 > slots_.size() * 3) grow();
    const uint64_t key = pack(a, b);
    size_t i = slot(key);
    while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
    if (slots_[i].key == kEmpty) ++size_;
    slots_[i] = Slot{key, m};
}

void PairMap::grow() {
    std::vector<Slot> old = std::move(slots_);
    reserve(std::max<size_t>(16, old.size()));  // at least twice the slots
    for (const Slot& s : old)
        if (s.key != kEmpty) insert(int32_t(s.key >> 32), int32_t(uint32_t(s.key)), s.merge);
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
