// CLAP's projection head (HF ClapProjectionLayer), shared by its audio and text towers:
// Linear(hidden -> dim), activation, Linear(dim -> dim), then L2 normalisation.
#pragma once

#include <string>

#include "core/gemm.h"
#include "core/kernels.h"

namespace cc {

struct ProjectionHead {
  Linear linear1, linear2;
  Activation act = Activation::kRelu;
};

// Weights under "<prefix>.linear1" and "<prefix>.linear2".
Result<ProjectionHead> load_projection_head(SafeTensors& w, const std::string& prefix, int hidden, int dim,
                                            Activation act);

// y[n, dim] = normalize(linear2(act(linear1(x[n, hidden]))))
void projection_head(const ProjectionHead& head, const float* x, int64_t n, float* y);

}  // namespace cc
