#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace cc {

ProgressBar::ProgressBar(std::string label, int total)
    : label_(std::move(label)), total_(total), tty_(isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  if (tty_) std::fputc('\n', stderr);
}

void ProgressBar::update(int done) {
  if (!tty_ || total_ <= 0) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done > 0 ? elapsed / done * (total_ - done) : 0;
  const int width = 30, filled = static_cast<int>(static_cast<double>(width) * done / total_);
  std::fprintf(stderr, "\r%-24s [%s%s] %d/%d  %.0fs elapsed, ETA %.0fs ", label_.c_str(), std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), done, total_, elapsed, eta);
  std::fflush(stderr);
}

}  // namespace cc
