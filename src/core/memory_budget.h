// A budget of bytes shared by everything a server holds for its requests: bodies, decoded
// media, decoders' canvases, prepared tensors waiting for a batch, responses waiting to be
// sent. Each holder takes what it needs before allocating and gives it back when done, so
// the total stays under the limit whatever clients send: a request that does not fit now is
// refused as overloaded (retry later), one that could never fit as too large.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>

#include "core/result.h"

namespace cc {

class MemoryBudget {
 public:
  explicit MemoryBudget(size_t limit_bytes) : limit_(limit_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  size_t limit() const { return limit_; }
  size_t in_use() const { return used_.load(std::memory_order_relaxed); }
  size_t peak() const { return peak_.load(std::memory_order_relaxed); }

  // Bytes taken from a budget (or from none: then nothing is counted and nothing refused),
  // given back when the hold is destroyed. Movable, not copyable.
  class Hold {
   public:
    Hold() = default;
    explicit Hold(MemoryBudget* budget) : budget_(budget) {}
    Hold(Hold&& o) noexcept : budget_(o.budget_), bytes_(o.bytes_) { o.bytes_ = 0; }
    Hold& operator=(Hold&& o) noexcept;
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    ~Hold() { release(); }

    // Holds exactly `bytes` from now on: shrinking always works; growing fails, holding what
    // it held before, when the budget lacks the difference. `what` names the need in the error.
    Status resize(size_t bytes, const std::string& what);
    Status add(size_t bytes, const std::string& what) { return resize(bytes_ + bytes, what); }
    void release();
    size_t bytes() const { return bytes_; }

   private:
    MemoryBudget* budget_ = nullptr;
    size_t bytes_ = 0;
  };

  // A hold of `bytes` on `budget` (which may be null).
  static Result<Hold> take(MemoryBudget* budget, size_t bytes, const std::string& what);

 private:
  bool try_add(size_t bytes);
  void give_back(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  const size_t limit_;
  std::atomic<size_t> used_{0}, peak_{0};
};

}  // namespace cc
