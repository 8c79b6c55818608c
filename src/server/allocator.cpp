#include "server/allocator.h"

#include <malloc.h>

#include <chrono>

namespace cc {

// Measured under the 32-client soak test (tests/test_server.cpp) and scripts/bench_server.py
// on the full-size bundle; see README "The server under load".
// - One arena: every thread allocates from the main heap. Sixteen arenas (glibc's default
//   here) left RSS at ~260 MB under the soak load; four, ~150 MB, but each arena kept its own
//   holes and the server's memory at rest wandered by up to +-9 % between two idle moments 20 s
//   apart (12 soak runs). With one arena the same measure moved +0.4 ... +2.9 % (11 runs) and
//   RSS at rest fell from ~83 to ~72 MB (two arenas: -4.0 ... +10.6 %). Lock contention on the
//   one heap did not show: server/engine at concurrency 8, runs alternated, 0.830 / 0.855 /
//   0.883 / 0.812 / 0.850 against 0.850 / 0.908 / 0.826 / 0.797 with four.
//   (A leak of 4 KB per request reads +12.6 % on that measure: a heap that wanders hides it.)
// - Buffers up to 32 MB stay in the heaps: with a 256 KB mmap threshold every decoded image
//   was mapped and faulted in afresh on the request threads, which share the cores with
//   inference (server/engine at concurrency 8: 0.82 instead of 0.89).
// The towers' activations do not depend on this: they are pooled per thread (core/scratch.h).
void tune_malloc_for_server() {
  mallopt(M_ARENA_MAX, 1);
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
