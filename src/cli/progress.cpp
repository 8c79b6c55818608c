#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace cc {

ProgressBar::ProgressBar(std::string label, int64_t total, Unit unit)
    : label_(std::move(label)), total_(total), unit_(unit), tty_(isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  if (tty_) std::fputc('\n', stderr);
}

void ProgressBar::update(int64_t done, const std::string& note) {
  if (!tty_ || total_ <= 0) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : 0;
  const int width = 30, filled = static_cast<int>(static_cast<double>(width) * done / total_);
  char amount[64];
  if (unit_ == Unit::kBytes)
    std::snprintf(amount, sizeof amount, "%.1f/%.1f MB", done / 1e6, total_ / 1e6);
  else
    std::snprintf(amount, sizeof amount, "%lld/%lld", static_cast<long long>(done), static_cast<long long>(total_));
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  std::fprintf(stderr, "\r%-24s [%s%s] %s  %.1f%s/s  %.0fs elapsed, ETA %.0fs %s ", label_.c_str(), std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), amount, unit_ == Unit::kBytes ? rate / 1e6 : rate,
               unit_ == Unit::kBytes ? " MB" : "", elapsed, eta, note.c_str());
  std::fflush(stderr);
}

std::function<void(const std::string&, int64_t, int64_t)> StageBars::callback(std::function<bool(const std::string&)> bytes) {
  return [this, bytes](const std::string& stage, int64_t done, int64_t total) {
    if (!bar_ || stage != stage_) {
      bar_.reset();
      stage_ = stage;
      bar_ = std::make_unique<ProgressBar>(stage, total, bytes && bytes(stage) ? ProgressBar::Unit::kBytes : ProgressBar::Unit::kItems);
    }
    bar_->update(done);
  };
}

}  // namespace cc
