#include "audio/clap_windows.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace cc {

ClipWindows::ClipWindows(const ClapFeatureExtractor& fx, const LongAudioOptions& opts, std::optional<size_t> total,
                         MemoryBudget* budget)
    : fx_(fx), opts_(opts), total_(total), hold_(budget), max_len_(static_cast<size_t>(fx.config().max_samples())),
      hop_(std::max<size_t>(1, static_cast<size_t>(std::llround(opts.hop_seconds * fx.config().sampling_rate)))) {
  // first and center read one window (or, for a short clip, all of it): nothing else is kept.
  if (opts.mode == LongAudio::kFirst || (opts.mode == LongAudio::kCenter && total && *total <= max_len_)) {
    keep_hi_ = max_len_;
  } else if (opts.mode == LongAudio::kCenter && total) {
    keep_lo_ = fx.window_starts(*total, opts).front();
    keep_hi_ = keep_lo_ + max_len_;
  }
  base_ = keep_lo_;
}

void ClipWindows::append_window(const double* wave) {
  const std::vector<float> mel = fx_.log_mel(wave);
  for (int c = 0; c < fx_.channels(); ++c) features_.mel.insert(features_.mel.end(), mel.begin(), mel.end());  // fused: 4 copies
  ++features_.windows;
}

void ClipWindows::keep_from(size_t start) {
  // Dropped in steps of a window or more, so the copying stays a small share of the work.
  if (start < base_ + max_len_) return;
  kept_.erase(kept_.begin(), kept_.begin() + static_cast<std::ptrdiff_t>(start - base_));
  base_ = start;
}

Status ClipWindows::account() {
  const size_t bytes = kept_.capacity() * sizeof(double) + features_.mel.capacity() * sizeof(float);
  return hold_.resize(bytes, "a clip of " + std::to_string(seen_ / fx_.config().sampling_rate) + " s");
}

Status ClipWindows::push(const double* x, size_t n) {
  const size_t from = seen_;
  seen_ += n;
  const size_t lo = std::max(from, keep_lo_), hi = std::min(seen_, keep_hi_);
  if (lo < hi) kept_.insert(kept_.end(), x + (lo - from), x + (hi - from));
  if (opts_.mode == LongAudio::kWindows) {
    // A window that starts at s is one of window_starts' as soon as s + max_len < the clip's length.
    // Windows start at 0, hop, 2 hop, ...: the next one is features_.windows * hop.
    for (size_t s = features_.windows * hop_; s + max_len_ < seen_; s = features_.windows * hop_)
      append_window(kept_.data() + (s - base_));
    // Kept: from the next window's start, and the last max_len samples (the clip may end here).
    keep_from(std::min(features_.windows * hop_, seen_ > max_len_ ? seen_ - max_len_ : 0));
  }
  return account();
}

Result<ClipFeatures> ClipWindows::finish() {
  const size_t n = seen_;
  if (n == 0) return error("audio has no samples");
  if (total_ && *total_ != n)
    return error("audio gave " + std::to_string(n) + " samples where " + std::to_string(*total_) + " were counted", ErrorKind::kInternal);
  if (n < max_len_) {  // short: repeated and padded (kept_ holds all of it in every mode)
    features_ = {};
    append_window(fx_.pad(kept_).data());
  } else if (fx_.fused() && opts_.mode == LongAudio::kFusion && n > max_len_) {
    const auto whole = fx_.log_mel(kept_.data(), n);
    const int bins = fx_.config().feature_size, frames = static_cast<int>(whole.size() / bins), chunk = fx_.config().frames();
    if (frames == chunk) {  // HF's corner case: just over max_length
      features_ = {};
      for (int c = 0; c < 4; ++c) features_.mel.insert(features_.mel.end(), whole.begin(), whole.end());
      features_.windows = 1;
    } else {
      features_ = {fusion_chunks(whole, frames, chunk, bins), 1};
    }
  } else {
    const std::vector<size_t> starts = fx_.window_starts(n, opts_);
    for (size_t i = static_cast<size_t>(features_.windows); i < starts.size(); ++i) {
      if (starts[i] < base_ || starts[i] + max_len_ > base_ + kept_.size())
        return error("audio window at sample " + std::to_string(starts[i]) + " was not kept", ErrorKind::kInternal);
      append_window(kept_.data() + (starts[i] - base_));
    }
  }
  std::vector<double>().swap(kept_);
  CC_CHECK(account());
  return std::move(features_);
}

}  // namespace cc
