// Adam (Kingma & Ba), as torch.optim.Adam with its defaults: β1 0.9, β2 0.999, ε 1e-8.
#pragma once

#include <vector>

#include "train/losses.h"

namespace cc {

class Adam {
 public:
  Adam(const Projection& p, double lr) : lr_(lr), m_(zero_gradient(p)), v_(zero_gradient(p)) {}
  void step(Projection& p, const Gradient& g);

 private:
  double lr_, beta1_ = 0.9, beta2_ = 0.999, eps_ = 1e-8;
  int t_ = 0;
  Gradient m_, v_;
};

}  // namespace cc
