#include "core/threads.h"

#include <omp.h>

#include <cstdint>
#include <exception>
#include <mutex>

namespace cc {

void set_num_threads(int n) { omp_set_num_threads(n > 0 ? n : omp_get_num_procs()); }

int num_threads() { return omp_get_max_threads(); }

void run_serially_on_this_thread() { omp_set_num_threads(1); }  // a per-thread setting in OpenMP

void for_each_item(size_t n, const std::function<void(size_t)>& item) {
  if (n <= 1 || omp_in_parallel() || omp_get_max_threads() <= 1) {
    for (size_t i = 0; i < n; ++i) item(i);
    return;
  }
  std::exception_ptr thrown;
  std::mutex m;
#pragma omp parallel
  {
    run_serially_on_this_thread();  // this thread's setting, for the regions inside its items
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) {
      try {
        item(static_cast<size_t>(i));
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (!thrown) thrown = std::current_exception();
      }
    }
  }
  if (thrown) std::rethrow_exception(thrown);
}

}  // namespace cc
