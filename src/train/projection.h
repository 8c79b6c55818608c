// The learned map from CLAP's space into CLIP's: y = W·x (+ b), W of shape [out, in] as
// nn.Linear stores it. Training runs in float64 so a seed reproduces the weights bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace cc {

struct Projection {
  int in = 0, out = 0;
  bool bias = false;
  std::vector<double> w;  // [out, in]
  std::vector<double> b;  // [out], zeros when !bias

  static Projection identity(int dim, bool bias);

  // y[n, out] = x[n, in] · Wᵀ + b
  void apply(const std::vector<double>& x, int64_t n, std::vector<double>& y) const;
};

// Reads DIR/projection.safetensors as train-projection writes it ("weight" [out, in], "bias").
Result<Projection> load_projection(const std::string& dir);

}  // namespace cc
