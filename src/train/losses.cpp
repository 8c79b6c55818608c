#include "train/losses.h"

#include <algorithm>
#include <cmath>

namespace cc {

namespace {

// Backpropagates dL/dy (rows of the projected, unnormalised y) into W and b.
void backprop_linear(const Projection& p, const std::vector<double>& x, const std::vector<double>& dy, int64_t n,
                     double weight, Gradient* g) {
  for (int64_t r = 0; r < n; ++r)
    for (int o = 0; o < p.out; ++o) {
      const double d = weight * dy[r * p.out + o];
      if (d == 0) continue;
      double* gw = g->w.data() + static_cast<size_t>(o) * p.in;
      const double* xr = x.data() + r * p.in;
      for (int i = 0; i < p.in; ++i) gw[i] += d * xr[i];
      if (p.bias) g->b[o] += d;
    }
}

double norm(const double* v, int d) {
  double s = 0;
  for (int i = 0; i < d; ++i) s += v[i] * v[i];
  return std::sqrt(s);
}

}  // namespace

Gradient zero_gradient(const Projection& p) {
  return {std::vector<double>(p.w.size(), 0.0), std::vector<double>(p.b.size(), 0.0)};
}

double cosine_loss(const Projection& p, const std::vector<double>& x, const std::vector<double>& t, int64_t n,
                   Gradient* g, double weight) {
  std::vector<double> y, dy(static_cast<size_t>(n) * p.out, 0.0);
  p.apply(x, n, y);
  double loss = 0;
  const int d = p.out;
  for (int64_t r = 0; r < n; ++r) {
    const double* yr = y.data() + r * d;
    const double* tr = t.data() + r * d;
    const double ny = std::max(norm(yr, d), 1e-12), nt = std::max(norm(tr, d), 1e-12);
    double dot = 0;
    for (int i = 0; i < d; ++i) dot += yr[i] * tr[i];
    const double cos = dot / (ny * nt);
    loss += 1 - cos;
    // d(1 - cos)/dy = -(t / (|y||t|) - cos · y / |y|²), divided by n for the mean.
    for (int i = 0; i < d; ++i) dy[r * d + i] = -(tr[i] / (ny * nt) - cos * yr[i] / (ny * ny)) / n;
  }
  if (g) backprop_linear(p, x, dy, n, weight, g);
  return loss / n;
}

double info_nce_loss(const Projection& p, const std::vector<double>& x, const std::vector<double>& t, int64_t n,
                     double temperature, Gradient* g, double weight) {
  const int d = p.out;
  std::vector<double> y;
  p.apply(x, n, y);
  std::vector<double> u(y.size()), v(t.size()), ny(n);
  for (int64_t r = 0; r < n; ++r) {
    ny[r] = std::max(norm(y.data() + r * d, d), 1e-12);
    const double nt = std::max(norm(t.data() + r * d, d), 1e-12);
    for (int i = 0; i < d; ++i) {
      u[r * d + i] = y[r * d + i] / ny[r];
      v[r * d + i] = t[r * d + i] / nt;
    }
  }
  // logits[a][c] = u_a · v_c / τ; loss = (CE over rows + CE over columns) / 2, targets on the diagonal.
  std::vector<double> logits(static_cast<size_t>(n) * n);
  for (int64_t a = 0; a < n; ++a)
    for (int64_t c = 0; c < n; ++c) {
      double s = 0;
      for (int i = 0; i < d; ++i) s += u[a * d + i] * v[c * d + i];
      logits[a * n + c] = s / temperature;
    }
  std::vector<double> dlogits(logits.size(), 0.0);
  double loss = 0;
  for (int pass = 0; pass < 2; ++pass) {  // 0: rows (audio -> text), 1: columns (text -> audio)
    for (int64_t a = 0; a < n; ++a) {
      auto at = [&](int64_t k) -> size_t { return pass == 0 ? a * n + k : k * n + a; };
      double m = -1e300;
      for (int64_t k = 0; k < n; ++k) m = std::max(m, logits[at(k)]);
      double z = 0;
      for (int64_t k = 0; k < n; ++k) z += std::exp(logits[at(k)] - m);
      loss += (m + std::log(z) - logits[at(a)]) / (2.0 * n);
      for (int64_t k = 0; k < n; ++k)
        dlogits[at(k)] += (std::exp(logits[at(k)] - m) / z - (k == a ? 1.0 : 0.0)) / (2.0 * n);
    }
  }
  if (!g) return loss;
  // dL/du_a = Σ_c dlogits[a][c] v_c / τ; then through u = y / |y|: dy = (du - u (u·du)) / |y|.
  std::vector<double> dy(y.size(), 0.0);
  for (int64_t a = 0; a < n; ++a) {
    std::vector<double> du(d, 0.0);
    for (int64_t c = 0; c < n; ++c) {
      const double s = dlogits[a * n + c] / temperature;
      for (int i = 0; i < d; ++i) du[i] += s * v[c * d + i];
    }
    double ud = 0;
    for (int i = 0; i < d; ++i) ud += u[a * d + i] * du[i];
    for (int i = 0; i < d; ++i) dy[a * d + i] = (du[i] - u[a * d + i] * ud) / ny[a];
  }
  backprop_linear(p, x, dy, n, weight, g);
  return loss;
}

}  // namespace cc
