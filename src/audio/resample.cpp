#include "audio/resample.h"

#include <cmath>
#include <string>

#include <soxr.h>

namespace cc {

Result<std::vector<double>> resample(const std::vector<double>& x, int in_rate, int out_rate) {
  if (in_rate <= 0 || out_rate <= 0) return error("resample: rates must be positive");
  if (in_rate == out_rate) return x;
  const size_t n_out = static_cast<size_t>(std::ceil(static_cast<double>(x.size()) * out_rate / in_rate));
  std::vector<double> y(n_out + 16);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT64_I, SOXR_FLOAT64_I);
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  size_t done = 0;
  soxr_error_t err = soxr_oneshot(in_rate, out_rate, 1, x.data(), x.size(), nullptr, y.data(), y.size(), &done, &io, &q,
                                  nullptr);
  if (err) return error(std::string("resample: ") + err);
  y.resize(done);
  y.resize(n_out, 0.0);  // librosa.util.fix_length: trim or zero-pad to ceil(n * ratio)
  return y;
}

}  // namespace cc
