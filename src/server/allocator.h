// glibc malloc policy for the long-running server: one arena, buffers kept in the heaps, and
// the heaps' free pages given back to the kernel once a second.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

namespace cc {

// Call once at start, before the request threads exist.
void tune_malloc_for_server();

// Gives free pages inside malloc's heaps back to the kernel (malloc_trim) every `period_ms`
// until destroyed.
class HeapTrimmer {
 public:
  explicit HeapTrimmer(int period_ms);
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace cc
