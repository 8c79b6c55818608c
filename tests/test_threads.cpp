// for_each_item: files prepared several at a time.
#include <omp.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "core/threads.h"

namespace cc {
namespace {

struct TwoThreads {
  TwoThreads() { set_num_threads(2); }
  ~TwoThreads() { set_num_threads(0); }
};

TEST(ForEachItem, RunsEveryItemOnceWithItsInnerRegionsOnItsThread) {
  TwoThreads two;
  const size_t n = 37;
  std::vector<int> runs(n, 0), inner_threads(n, 0);
  for_each_item(n, [&](size_t i) {
    ++runs[i];
    int team = 0;
#pragma omp parallel
    {
#pragma omp single
      team = omp_get_num_threads();
    }
    inner_threads[i] = team;
  });
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(runs[i], 1) << i;
    EXPECT_EQ(inner_threads[i], 1) << i;  // a decoder's parallel loop does not start a team per item
  }
  EXPECT_EQ(num_threads(), 2);  // the caller's setting is untouched
}

TEST(ForEachItem, OneItemGetsEveryThread) {
  TwoThreads two;
  int team = 0;
  for_each_item(1, [&](size_t) {
#pragma omp parallel
    {
#pragma omp single
      team = omp_get_num_threads();
    }
  });
  EXPECT_EQ(team, 2);
}

TEST(ForEachItem, AnItemsExceptionIsThrownAfterTheOthersRan) {
  TwoThreads two;
  std::atomic<int> done{0};
  EXPECT_THROW(for_each_item(8,
                             [&](size_t i) {
                               if (i == 3) throw std::runtime_error("item 3");
                               ++done;
                             }),
               std::runtime_error);
  EXPECT_EQ(done.load(), 7);
}

}  // namespace
}  // namespace cc
