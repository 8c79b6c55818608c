// A fixed set of threads taking tasks in the order they were posted. The server has two: one
// thread per core for parsing, decoding and preprocessing requests (CPU work, which would
// otherwise compete with inference), and a few for fetching URLs (waiting on the network,
// which must never hold a thread that local work needs).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cc {

class TaskPool {
 public:
  // `setup` runs once on each thread before its first task.
  TaskPool(int threads, std::function<void()> setup = {});
  ~TaskPool();  // finishes what was posted, then joins
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  void post(std::function<void()> task);
  size_t queued() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cc
