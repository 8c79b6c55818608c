// The two objectives, each with its gradient with respect to W and b (checked against finite
// differences in the tests).
//   text bridge (the original plan):  mean over pairs of 1 - cos(W·x + b, t)
//   audio-caption (InfoNCE):           logits = norm(W·x + b) · norm(t)ᵀ / τ, the mean of the
//                                      cross-entropies of rows and of columns (CLIP's loss)
#pragma once

#include <cstdint>
#include <vector>

#include "train/projection.h"

namespace cc {

struct Gradient {
  std::vector<double> w, b;
};

// x: [n, in] source vectors (CLAP), t: [n, out] targets (CLIP text). Returns the loss and adds
// `weight` times its gradient into g (sized like the projection).
double cosine_loss(const Projection& p, const std::vector<double>& x, const std::vector<double>& t, int64_t n,
                   Gradient* g, double weight = 1.0);
double info_nce_loss(const Projection& p, const std::vector<double>& x, const std::vector<double>& t, int64_t n,
                     double temperature, Gradient* g, double weight = 1.0);

Gradient zero_gradient(const Projection& p);

}  // namespace cc
