#include "core/threads.h"

#include <omp.h>

namespace cc {

void set_num_threads(int n) { omp_set_num_threads(n > 0 ? n : omp_get_num_procs()); }

int num_threads() { return omp_get_max_threads(); }

void run_serially_on_this_thread() { omp_set_num_threads(1); }  // a per-thread setting in OpenMP

}  // namespace cc
