// One knob for parallelism: oneDNN and our kernels share the OpenMP thread pool.
#pragma once

namespace cc {

// n <= 0 means all cores.
void set_num_threads(int n);
int num_threads();

// This thread's own parallel regions run on it alone. For a server's request threads, whose
// preprocessing must not start an OpenMP team per thread (and compete with inference).
void run_serially_on_this_thread();

}  // namespace cc
