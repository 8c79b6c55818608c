// Sample-rate conversion with libsoxr at "HQ" quality, what librosa.resample uses by default
// (res_type="soxr_hq"), float64 in and out, with librosa's length: ceil(n * out / in).
#pragma once

#include <vector>

#include "core/result.h"

namespace cc {

Result<std::vector<double>> resample(const std::vector<double>& x, int in_rate, int out_rate);

}  // namespace cc
