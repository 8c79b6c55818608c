// Activation buffers for the forward passes, taken from a pool kept per thread.
//
// Why: a tower asks for the same few large buffers batch after batch. Taken from malloc
// every time, they were either given back to the kernel and refaulted on the next batch
// (glibc's defaults: a batch of 8 full-size images 480 ms instead of 390) or kept in a
// heap shared with the server's request threads, where fragmentation made RSS creep.
// Pooled, they are faulted in once and reused; the allocator never sees the forward pass.
#pragma once

#include <cstddef>

namespace cc {

class Scratch {
 public:
  explicit Scratch(size_t count);  // contents undefined
  Scratch(size_t count, float fill);
  ~Scratch();
  Scratch(Scratch&& other) noexcept;
  Scratch& operator=(Scratch&& other) noexcept;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t size() const { return size_; }
  float& operator[](size_t i) { return data_[i]; }
  float operator[](size_t i) const { return data_[i]; }

 private:
  float* data_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
};

}  // namespace cc
