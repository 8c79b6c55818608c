#include "core/kernels.h"

#include <algorithm>
#include <cmath>

#include "core/activation_samples.h"
#include "core/simd.h"

#if defined(__AVX512F__)
// glibc's libmvec: 16-lane expf and erff (within 4 ulp). Scalar expf/erff dominated the
// softmax and GELU of HTSAT's window attention (about 20 M calls per 10-s clip).
extern "C" __m512 _ZGVeN16v_expf(__m512);
extern "C" __m512 _ZGVeN16v_erff(__m512);
#endif

namespace cc {

namespace {

// Applies `vec` to x[0..n) sixteen floats at a time (the tail padded through a buffer), or
// `scalar` to each element where AVX-512 is not available.
template <class Vec, class Scalar>
void map_lanes(float* x, int64_t n, Vec vec, Scalar scalar) {
#if defined(__AVX512F__)
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, vec(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, m, vec(_mm512_maskz_loadu_ps(m, x + i)));
  }
  (void)scalar;
#else
  (void)vec;
  for (int64_t i = 0; i < n; ++i) x[i] = scalar(x[i]);
#endif
}

}  // namespace

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
    // mean and variance summed in double (eight lanes at a time where AVX-512 is): as exact as
    // torch's, whatever the width
    double sum = 0, var = 0;
    int i = 0;
#if defined(__AVX512F__)
    __m512d acc = _mm512_setzero_pd();
    for (; i + 8 <= d; i += 8) acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_loadu_ps(xr + i)));
    sum = _mm512_reduce_add_pd(acc);
#endif
    for (; i < d; ++i) sum += xr[i];
    const float mean = static_cast<float>(sum / d);
    i = 0;
#if defined(__AVX512F__)
    acc = _mm512_setzero_pd();
    const __m256 vmean = _mm256_set1_ps(mean);
    for (; i + 8 <= d; i += 8) {  // the difference in float, as below
      const __m512d c = _mm512_cvtps_pd(_mm256_sub_ps(_mm256_loadu_ps(xr + i), vmean));
      acc = _mm512_fmadd_pd(c, c, acc);
    }
    var = _mm512_reduce_add_pd(acc);
#endif
    for (; i < d; ++i) {
      double c = xr[i] - mean;
      var += c * c;
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(var / d + ln.eps));
    for (i = 0; i < d; ++i) yr[i] = (xr[i] - mean) * inv * ln.gamma[i] + ln.beta[i];
  }
  if (ActivationSamples* samples = recorded_activations()) samples->record(ln, y, rows);
}

Result<BatchNorm> load_batch_norm(SafeTensors& w, const std::string& prefix, int channels, float eps) {
  CC_TRY(Tensor weight, w.get(prefix + ".weight", {channels}));
  CC_TRY(Tensor bias, w.get(prefix + ".bias", {channels}));
  CC_TRY(Tensor mean, w.get(prefix + ".running_mean", {channels}));
  CC_TRY(Tensor var, w.get(prefix + ".running_var", {channels}));
  BatchNorm bn;
  bn.alpha.resize(channels);
  bn.beta.resize(channels);
  for (int i = 0; i < channels; ++i) {
    const float invstd = 1.0f / std::sqrt(var.data[i] + eps);
    bn.alpha[i] = invstd * weight.data[i];
    bn.beta[i] = bias.data[i] - mean.data[i] * bn.alpha[i];
  }
  return bn;
}

void batch_norm(const BatchNorm& bn, float* x, int64_t rows) {
  const int64_t c = static_cast<int64_t>(bn.alpha.size());
#pragma omp parallel for if (rows * c >= 65536)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < c; ++i) x[r * c + i] = x[r * c + i] * bn.alpha[i] + bn.beta[i];
}

void sigmoid(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 1.0f / (1.0f + std::exp(-x[i]));
}

void quick_gelu(float* x, int64_t n) {
  constexpr int64_t kChunk = 4096;
#pragma omp parallel for if (n >= 65536)
  for (int64_t c = 0; c < n; c += kChunk) {
    map_lanes(
        x + c, std::min(kChunk, n - c),
#if defined(__AVX512F__)
        [](__m512 v) {
          const __m512 e = _ZGVeN16v_expf(_mm512_mul_ps(v, _mm512_set1_ps(-1.702f)));
          return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
        },
#else
        nullptr,
#endif
        [](float v) { return v / (1.0f + std::exp(-1.702f * v)); });
  }
}

void gelu(float* x, int64_t n) {
  constexpr int64_t kChunk = 4096;
#pragma omp parallel for if (n >= 65536)
  for (int64_t c = 0; c < n; c += kChunk) {
    map_lanes(
        x + c, std::min(kChunk, n - c),
#if defined(__AVX512F__)
        [](__m512 v) {
          const __m512 e = _ZGVeN16v_erff(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)));
          return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
        },
#else
        nullptr,
#endif
        [](float v) { return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f)); });
  }
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
#if defined(__AVX512F__)
  // Sixteen lanes for the max and the sum too: HTSAT runs ~100 k rows of 64 per clip, and the
  // scalar max and sum (chains of dependent operations) took more time than the exps.
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  int i = 0;
  for (; i + 16 <= n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + i));
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
  if (i < n) vmax = _mm512_mask_max_ps(vmax, tail, vmax, _mm512_maskz_loadu_ps(tail, x + i));
  const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512 e = _ZGVeN16v_expf(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
    _mm512_storeu_ps(x + i, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  if (i < n) {
    const __m512 e = _ZGVeN16v_expf(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + i), vm));
    _mm512_mask_storeu_ps(x + i, tail, e);
    vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(tail, e));
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
  map_lanes(x, n, [&](__m512 v) { return _mm512_mul_ps(v, inv); }, nullptr);
#else
  float m = x[0];
  for (int i = 1; i < n; ++i) m = std::max(m, x[i]);
  for (int i = 0; i < n; ++i) x[i] = std::exp(x[i] - m);
  float sum = 0;
  for (int i = 0; i < n; ++i) sum += x[i];
  const float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) x[i] *= inv;
#endif
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
