// A fixed-size scratch array whose memory is not touched when it is allocated.
//
// std::vector<float>::resize zero-fills every element, which makes every page resident at
// once. The graph's scratch is sized for its largest step (max_batch tokens of prefill),
// but a decode step uses one row of it and a short prompt a few: with this buffer the rows
// no step has written cost no memory (large allocations come from fresh, untouched pages).
// Contents start undefined; every user writes before it reads.
#pragma once
#include <cstddef>
#include <memory>

namespace ember {

template <class T>
class ScratchBuffer {
public:
    // n elements, default-initialized (for arithmetic types: not written). Drops the old contents.
    void resize(size_t n) {
        data_.reset(new T[n]);
        size_ = n;
    }
    T* data() { return data_.get(); }
    const T* data() const { return data_.get(); }
    T& operator[](size_t i) { return data_[i]; }
    const T& operator[](size_t i) const { return data_[i]; }
    size_t size() const { return size_; }

private:
    std::unique_ptr<T[]> data_;
    size_t size_ = 0;
};

}  // namespace ember
