// One knob for parallelism: oneDNN and our kernels share the OpenMP thread pool.
#pragma once

namespace cc {

// n <= 0 means all cores.
void set_num_threads(int n);
int num_threads();

}  // namespace cc
