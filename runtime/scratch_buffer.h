// A fixed-size zeroed array whose pages become resident only when first written.
//
// std::vector<T>::resize writes every element, which makes every page resident at once.
// calloc'd memory reads as zero too, but a large block comes straight from the kernel as
// untouched zero pages (glibc does not clear what the kernel already cleared), so the
// parts nobody writes cost no memory. Used for buffers sized for the worst case: the
// graph's scratch (max_batch tokens of prefill, where a decode step uses one row) and the
// KV pool (--ctx tokens, where a short conversation fills a few blocks).
#pragma once
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>

namespace ember {

template <class T>
class ScratchBuffer {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>, "plain data only");

public:
    // n zeroed elements (throws std::bad_alloc). Drops the old contents.
    void resize(size_t n) {
        data_.reset();
        size_ = 0;
        if (n == 0) return;
        void* p = std::calloc(n, sizeof(T));
        if (p == nullptr) throw std::bad_alloc();
        data_.reset(static_cast<T*>(p));
        size_ = n;
    }
    T* data() { return data_.get(); }
    const T* data() const { return data_.get(); }
    T& operator[](size_t i) { return data_.get()[i]; }
    const T& operator[](size_t i) const { return data_.get()[i]; }
    size_t size() const { return size_; }

private:
    struct Free {
        void operator()(T* p) const { std::free(p); }
    };
    std::unique_ptr<T, Free> data_;
    size_t size_ = 0;
};

}  // namespace ember
