// Sample-rate conversion with libsoxr at "HQ" quality, what librosa.resample uses by default
// (res_type="soxr_hq"), float64 in and out, with librosa's length: ceil(n * out / in).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "core/result.h"

struct soxr;

namespace cc {

// The number of samples librosa.resample returns for n input samples (librosa.util.fix_length).
size_t resampled_length(size_t n, int in_rate, int out_rate);

// Resamples a stream block by block. libsoxr's output does not depend on how its input is cut
// into blocks, so this equals the whole clip resampled at once (tested).
class Resampler {
 public:
  static Result<std::unique_ptr<Resampler>> create(int in_rate, int out_rate);
  ~Resampler();
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;

  // Appends to `out` what `n` more input samples give.
  Status push(const double* x, size_t n, std::vector<double>& out);
  // Appends the rest: in all, exactly resampled_length(inputs) samples (zero-padded or cut).
  Status finish(std::vector<double>& out);

 private:
  Resampler() = default;
  Status drain(const double* x, size_t n, std::vector<double>& out);
  void emit(std::vector<double>& out, size_t keep_back);

  int in_rate_ = 0, out_rate_ = 0;
  soxr* soxr_ = nullptr;
  size_t in_total_ = 0, out_total_ = 0;  // samples taken; samples given out
  std::vector<double> pending_;          // output not given out yet: the last few, which the final length may cut
};

// The whole clip at once.
Result<std::vector<double>> resample(const std::vector<double>& x, int in_rate, int out_rate);

}  // namespace cc
