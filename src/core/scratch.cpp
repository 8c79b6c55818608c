#include "core/scratch.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

namespace cc {
namespace {

struct Block {
  float* data;
  size_t capacity;
};

// The free blocks of one thread. A pass that needs a block bigger than every free one
// replaces the largest free block, so the pool never holds more blocks than a pass has
// alive at once, each no bigger than the largest request seen.
struct Pool {
  std::vector<Block> free;
  size_t blocks = 0;  // alive and free; `free` is reserved for all of them, so giving back never allocates
  ~Pool() {
    for (const Block& b : free) std::free(b.data);
  }

  Block take(size_t count) {
    auto best = free.end();
    for (auto it = free.begin(); it != free.end(); ++it)
      if (it->capacity >= count && (best == free.end() || it->capacity < best->capacity)) best = it;
    if (best != free.end()) {
      Block b = *best;
      free.erase(best);
      return b;
    }
    if (!free.empty()) {
      auto largest = std::max_element(free.begin(), free.end(),
                                      [](const Block& a, const Block& b) { return a.capacity < b.capacity; });
      std::free(largest->data);
      free.erase(largest);
      --blocks;
    }
    const size_t capacity = std::max<size_t>(count, 16);
    if (capacity > std::numeric_limits<size_t>::max() / sizeof(float) - 64) throw std::bad_alloc();
    const size_t bytes = (capacity * sizeof(float) + 63) / 64 * 64;  // aligned_alloc wants a multiple
    auto* data = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!data) throw std::bad_alloc();
    try {
      free.reserve(blocks + 1);
    } catch (...) {
      std::free(data);
      throw;
    }
    ++blocks;
    return {data, capacity};
  }

  void give_back(float* data, size_t capacity) noexcept { free.push_back({data, capacity}); }
};

thread_local Pool pool;

}  // namespace

Scratch::Scratch(size_t count) : size_(count) {
  Block b = pool.take(count);
  data_ = b.data;
  capacity_ = b.capacity;
#ifdef __SANITIZE_ADDRESS__
  // Under the sanitizers, a pass that reads a buffer before writing it sees NaN and fails
  // its parity test, rather than silently reading the previous batch.
  std::fill(data_, data_ + size_, std::numeric_limits<float>::quiet_NaN());
#endif
}

Scratch::Scratch(size_t count, float fill) : Scratch(count) { std::fill(data_, data_ + size_, fill); }

Scratch::~Scratch() {
  if (data_) pool.give_back(data_, capacity_);
}

Scratch::Scratch(Scratch&& other) noexcept : data_(other.data_), size_(other.size_), capacity_(other.capacity_) {
  other.data_ = nullptr;
  other.size_ = other.capacity_ = 0;
}

Scratch& Scratch::operator=(Scratch&& other) noexcept {
  if (this != &other) {
    if (data_) pool.give_back(data_, capacity_);
    data_ = other.data_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
  }
  return *this;
}

}  // namespace cc
