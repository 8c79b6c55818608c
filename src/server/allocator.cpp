#include "server/allocator.h"

#include <malloc.h>

#include <chrono>

namespace cc {

// Measured under the 32-client soak test (tests/test_server.cpp) and scripts/bench_server.py
// on the full-size bundle; see README "The server under load".
// - Few arenas: request threads share four heaps instead of leaving sixteen half-empty ones
//   (RSS 260 -> ~150 MB).
// - Buffers up to 32 MB stay in the heaps: with a 256 KB mmap threshold every decoded image
//   was mapped and faulted in afresh on the request threads, which share the cores with
//   inference (server/engine at concurrency 8: 0.82 instead of 0.89).
// The towers' activations do not depend on this: they are pooled per thread (core/scratch.h).
void tune_malloc_for_server() {
  mallopt(M_ARENA_MAX, 4);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

// Why a trimmer: glibc returns a heap's free pages only from its top, so the holes left by
// thousands of mixed-size requests (JSON nodes, strings, small images) kept RSS rising under
// the soak load (the heaps 35 -> 55 MB over 150 s, still climbing). malloc_trim releases the
// free pages inside the heaps too; with it the heaps level off after about a minute.
HeapTrimmer::HeapTrimmer(int period_ms) {
  thread_ = std::thread([this, period_ms] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(period_ms), [this] { return stop_; })) malloc_trim(0);
  });
}

HeapTrimmer::~HeapTrimmer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

}  // namespace cc
