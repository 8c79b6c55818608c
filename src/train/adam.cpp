#include "train/adam.h"

#include <cmath>

namespace cc {

void Adam::step(Projection& p, const Gradient& g) {
  ++t_;
  const double c1 = 1 - std::pow(beta1_, t_), c2 = 1 - std::pow(beta2_, t_);
  auto update = [&](std::vector<double>& param, const std::vector<double>& grad, std::vector<double>& m,
                    std::vector<double>& v) {
    for (size_t i = 0; i < param.size(); ++i) {
      m[i] = beta1_ * m[i] + (1 - beta1_) * grad[i];
      v[i] = beta2_ * v[i] + (1 - beta2_) * grad[i] * grad[i];
      param[i] -= lr_ * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps_);
    }
  };
  update(p.w, g.w, m_.w, v_.w);
  if (p.bias) update(p.b, g.b, m_.b, v_.b);
}

}  // namespace cc
