#include "core/kernels.h"

#include <algorithm>
#include <cmath>

namespace cc {

Result<LayerNorm> load_layer_norm(SafeTensors& w, const std::string& prefix, int dim, float eps) {
  LayerNorm ln;
  ln.dim = dim;
  ln.eps = eps;
  CC_TRY(Tensor gamma, w.get(prefix + ".weight", {dim}));
  CC_TRY(Tensor beta, w.get(prefix + ".bias", {dim}));
  ln.gamma = gamma.data;
  ln.beta = beta.data;
  return ln;
}

void layer_norm(const LayerNorm& ln, const float* x, int64_t rows, float* y) {
  const int d = ln.dim;
#pragma omp parallel for if (rows >= 64)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    double sum = 0;
    for (int i = 0; i < d; ++i) sum += xr[i];
    const float mean = static_cast<float>(sum / d);
    double var = 0;
    for (int i = 0; i < d; ++i) {
      double c = xr[i] - mean;
      var += c * c;
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(var / d + ln.eps));
    for (int i = 0; i < d; ++i) yr[i] = (xr[i] - mean) * inv * ln.gamma[i] + ln.beta[i];
  }
}

void quick_gelu(float* x, int64_t n) {
#pragma omp parallel for if (n >= 65536)
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-1.702f * x[i]));
}

void gelu(float* x, int64_t n) {
#pragma omp parallel for if (n >= 65536)
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

void relu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
}

Result<Activation> parse_activation(const std::string& name) {
  if (name == "quick_gelu") return Activation::kQuickGelu;
  if (name == "gelu") return Activation::kGelu;
  if (name == "relu") return Activation::kRelu;
  return error("unsupported activation '" + name + "' (supported: quick_gelu, gelu, relu)");
}

void activate(Activation act, float* x, int64_t n) {
  switch (act) {
    case Activation::kQuickGelu: return quick_gelu(x, n);
    case Activation::kGelu: return gelu(x, n);
    case Activation::kRelu: return relu(x, n);
  }
}

void add_inplace(float* y, const float* x, int64_t n) {
#pragma omp parallel for if (n >= 65536)
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void softmax(float* x, int n) {
  float m = x[0];
  for (int i = 1; i < n; ++i) m = std::max(m, x[i]);
  float sum = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) x[i] *= inv;
}

void l2_normalize_rows(float* x, int64_t rows, int dim) {
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * dim;
    double ss = 0;
    for (int i = 0; i < dim; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float inv = static_cast<float>(1.0 / std::max(std::sqrt(ss), 1e-12));
    for (int i = 0; i < dim; ++i) xr[i] *= inv;
  }
}

}  // namespace cc
