// Matrix products, all through oneDNN's matmul primitive. Weights are read in place from the
// memory-mapped checkpoint (PyTorch's [out, in] layout), so loading copies nothing.
// Why oneDNN and not OpenBLAS: measured on the towers' shapes, see README "GEMM back end".
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "core/safetensors.h"

namespace cc {

// nn.Linear: y = x · Wᵀ + b, with W of shape [out, in].
struct Linear {
  const float* weight = nullptr;
  const float* bias = nullptr;  // null when the layer has none
  int in = 0, out = 0;
};

Result<Linear> load_linear(SafeTensors& w, const std::string& prefix, int in, int out, bool has_bias);

// y[rows, out] = x[rows, in] · Wᵀ + b
void linear(const Linear& layer, const float* x, int64_t rows, float* y);

// A 4-D strided view of a float matrix batch: dims {b0, b1, rows, cols}.
struct MatrixView {
  float* data;
  std::array<int64_t, 4> dims;
  std::array<int64_t, 4> strides;
};

// c[i, j] = a[i, j] · b[i, j] for every batch index (i, j); used by attention.
void batched_matmul(const MatrixView& a, const MatrixView& b, const MatrixView& c);

}  // namespace cc
