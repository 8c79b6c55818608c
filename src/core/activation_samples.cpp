#include "core/activation_samples.h"

#include <algorithm>
#include <cmath>

#include "core/kernels.h"

namespace cc {

namespace {
thread_local ActivationSamples* recording = nullptr;
}

void ActivationSamples::record(const LayerNorm& ln, const float* y, int64_t rows) {
  Norm& n = norms_[ln.gamma];
  const int d = ln.dim;
  if (n.dim == 0) {
    n.dim = d;
    n.channel_max.assign(d, 0.0f);
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int k = 0; k < d; ++k) n.channel_max[k] = std::max(n.channel_max[k], std::fabs(y[r * d + k]));
  for (int64_t r = 0; r < rows; ++r, ++n.seen) {
    if (n.seen % n.stride != 0) continue;
    if (n.count() == max_rows(d)) {  // keep rows 0, 2, 4, ... of those held: every (2 · stride)-th seen
      for (int64_t i = 1; 2 * i < max_rows(d); ++i) std::copy_n(&n.rows[2 * i * d], d, &n.rows[i * d]);
      n.rows.resize(static_cast<size_t>(max_rows(d) / 2) * d);
      n.stride *= 2;
      if (n.seen % n.stride != 0) continue;
    }
    n.rows.insert(n.rows.end(), y + r * d, y + (r + 1) * d);
  }
}

int64_t ActivationSamples::max_rows(int dim) {
  int64_t rows = kMinRows;
  while (2 * rows * dim <= kMaxFloats) rows *= 2;
  return rows;
}

const ActivationSamples::Norm* ActivationSamples::find(const LayerNorm& ln) const {
  auto it = norms_.find(ln.gamma);
  return it == norms_.end() ? nullptr : &it->second;
}

RecordActivations::RecordActivations(ActivationSamples& samples) : previous_(recording) { recording = &samples; }

RecordActivations::~RecordActivations() { recording = previous_; }

ActivationSamples* recorded_activations() { return recording; }

}  // namespace cc
