// A progress bar with an ETA on stderr, for long work (encoding, epochs); silent when stderr
// is not a terminal, so logs and tests stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace cc {

class ProgressBar {
 public:
  enum class Unit { kItems, kBytes };
  ProgressBar(std::string label, int64_t total, Unit unit = Unit::kItems);
  ~ProgressBar();
  // `note` follows the figures ("3 errors"); the rate is shown per second.
  void update(int64_t done, const std::string& note = "");

 private:
  std::string label_;
  int64_t total_;
  Unit unit_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

// One bar per stage of a library pipeline that reports (stage, done, total): a new stage ends
// the bar before it. `bytes` says which stages count bytes (downloads) rather than items.
class StageBars {
 public:
  std::function<void(const std::string&, int64_t, int64_t)> callback(std::function<bool(const std::string& stage)> bytes = {});
  void done() { bar_.reset(); }

 private:
  std::string stage_;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace cc
