// A progress bar with an ETA on stderr, for long work (encoding, epochs); silent when stderr
// is not a terminal, so logs and tests stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace cc {

class ProgressBar {
 public:
  enum class Unit { kItems, kBytes };
  ProgressBar(std::string label, int64_t total, Unit unit = Unit::kItems);
  ~ProgressBar();
  void update(int64_t done);

 private:
  std::string label_;
  int64_t total_;
  Unit unit_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace cc
