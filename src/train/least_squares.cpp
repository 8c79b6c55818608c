#include "train/least_squares.h"

#include <cmath>

namespace cc {

Result<Projection> least_squares_projection(const std::vector<double>& x, const std::vector<double>& t, int64_t n,
                                            int in, int out, bool bias) {
  const int k = in + (bias ? 1 : 0);  // the ones column carries the bias
  auto xa = [&](int64_t r, int i) { return i < in ? x[r * in + i] : 1.0; };
  std::vector<double> a(static_cast<size_t>(k) * k, 0.0), rhs(static_cast<size_t>(k) * out, 0.0);
#pragma omp parallel for
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j <= i; ++j) {
      double s = 0;
      for (int64_t r = 0; r < n; ++r) s += xa(r, i) * xa(r, j);
      a[static_cast<size_t>(i) * k + j] = a[static_cast<size_t>(j) * k + i] = s;
    }
    for (int o = 0; o < out; ++o) {
      double s = 0;
      for (int64_t r = 0; r < n; ++r) s += xa(r, i) * t[r * out + o];
      rhs[static_cast<size_t>(i) * out + o] = s;
    }
  }
  double trace = 0;
  for (int i = 0; i < in; ++i) trace += a[static_cast<size_t>(i) * k + i];
  const double lambda = 1e-3 * trace / in + 1e-12;
  for (int i = 0; i < in; ++i) a[static_cast<size_t>(i) * k + i] += lambda;
  if (bias) a[static_cast<size_t>(in) * k + in] += 1e-12;

  // Cholesky: a = L·Lᵀ, in place (lower triangle).
  for (int j = 0; j < k; ++j) {
    double d = a[static_cast<size_t>(j) * k + j];
    for (int p = 0; p < j; ++p) d -= a[static_cast<size_t>(j) * k + p] * a[static_cast<size_t>(j) * k + p];
    if (!(d > 0)) return error("least squares: the normal equations are singular (too few or repeated vectors)");
    const double l = std::sqrt(d);
    a[static_cast<size_t>(j) * k + j] = l;
    for (int i = j + 1; i < k; ++i) {
      double s = a[static_cast<size_t>(i) * k + j];
      for (int p = 0; p < j; ++p) s -= a[static_cast<size_t>(i) * k + p] * a[static_cast<size_t>(j) * k + p];
      a[static_cast<size_t>(i) * k + j] = s / l;
    }
  }
  // Solve L·Lᵀ·Z = rhs, one output column at a time.
  Projection p = Projection::identity(in, bias);
  p.out = out;
  p.w.assign(static_cast<size_t>(out) * in, 0.0);
  p.b.assign(out, 0.0);
#pragma omp parallel for
  for (int o = 0; o < out; ++o) {
    std::vector<double> z(k);
    for (int i = 0; i < k; ++i) {
      double s = rhs[static_cast<size_t>(i) * out + o];
      for (int p2 = 0; p2 < i; ++p2) s -= a[static_cast<size_t>(i) * k + p2] * z[p2];
      z[i] = s / a[static_cast<size_t>(i) * k + i];
    }
    for (int i = k - 1; i >= 0; --i) {
      double s = z[i];
      for (int p2 = i + 1; p2 < k; ++p2) s -= a[static_cast<size_t>(p2) * k + i] * z[p2];
      z[i] = s / a[static_cast<size_t>(i) * k + i];
    }
    for (int i = 0; i < in; ++i) p.w[static_cast<size_t>(o) * in + i] = z[i];
    if (bias) p.b[o] = z[in];
  }
  return p;
}

}  // namespace cc
