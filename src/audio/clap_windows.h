// What ClapFeatureExtractor::clip_features embeds for one clip, built while the clip's samples
// (at the model's rate) arrive: each window's log-mel is taken as soon as its samples are in,
// and only the samples that windows still to come will read are kept. A clip of any length
// costs about two windows of samples plus its features; the whole clip is held only for
// LongAudio::kFusion, whose first channel shrinks the whole clip's mel.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "audio/clap_features.h"
#include "core/memory_budget.h"

namespace cc {

struct ClipFeatures {
  std::vector<float> mel;  // `windows` tower inputs, concatenated
  int windows = 0;
};

class ClipWindows {
 public:
  // `total`: the clip's length in samples, needed up front by LongAudio::kCenter only.
  ClipWindows(const ClapFeatureExtractor& fx, const LongAudioOptions& opts, std::optional<size_t> total, MemoryBudget* budget);

  Status push(const double* x, size_t n);
  Result<ClipFeatures> finish();

 private:
  void append_window(const double* wave);  // one window's channels onto features_
  void keep_from(size_t start);            // forget samples before `start`
  Status account();

  const ClapFeatureExtractor& fx_;
  LongAudioOptions opts_;
  std::optional<size_t> total_;
  MemoryBudget::Hold hold_;
  size_t max_len_, hop_;
  std::vector<double> kept_;  // samples [base_, base_ + kept_.size())
  size_t base_ = 0, seen_ = 0;
  size_t keep_lo_ = 0, keep_hi_ = SIZE_MAX;  // the only samples a single-window mode keeps
  ClipFeatures features_;
};

}  // namespace cc
