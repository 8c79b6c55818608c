// The closed-form start for W: argmin Σ |W·x + b - t|² + λ|W|², from the normal equations
// (XᵀX + λI) Z = XᵀT solved by Cholesky, Z = [Wᵀ; bᵀ]. λ = 1e-3 · trace(XᵀX) / in keeps the
// system well posed when there are fewer pairs than dimensions.
#pragma once

#include <cstdint>
#include <vector>

#include "core/result.h"
#include "train/projection.h"

namespace cc {

Result<Projection> least_squares_projection(const std::vector<double>& x, const std::vector<double>& t, int64_t n,
                                            int in, int out, bool bias);

}  // namespace cc
