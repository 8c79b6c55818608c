// One knob for parallelism: oneDNN and our kernels share the OpenMP thread pool.
#pragma once

#include <cstddef>
#include <functional>

namespace cc {

// n <= 0 means all cores.
void set_num_threads(int n);
int num_threads();

// This thread's own parallel regions run on it alone. For a server's request threads, whose
// preprocessing must not start an OpenMP team per thread (and compete with inference).
void run_serially_on_this_thread();

// Runs item(i) for every i < n, an item per thread at a time, each item's own parallel regions
// on its thread alone. For work that is serial inside (decoding a file, resampling it): n files
// keep every core busy where one at a time kept one. A single item runs here with every thread.
// An exception from an item is thrown again here, once all have run.
void for_each_item(size_t n, const std::function<void(size_t)>& item);

}  // namespace cc
