// A progress bar with an ETA on stderr, for long work (encoding, epochs); silent when stderr
// is not a terminal, so logs and tests stay clean.
#pragma once

#include <chrono>
#include <string>

namespace cc {

class ProgressBar {
 public:
  ProgressBar(std::string label, int total);
  ~ProgressBar();
  void update(int done);

 private:
  std::string label_;
  int total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace cc
