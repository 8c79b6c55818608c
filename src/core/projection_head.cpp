#include "core/projection_head.h"

#include <vector>

namespace cc {

Result<ProjectionHead> load_projection_head(SafeTensors& w, const std::string& prefix, int hidden, int dim,
                                            Activation act) {
  ProjectionHead h;
  h.act = act;
  CC_TRY(h.linear1, load_fp32_linear(w, prefix + ".linear1", hidden, dim, true));
  CC_TRY(h.linear2, load_fp32_linear(w, prefix + ".linear2", dim, dim, true));
  return h;
}

void projection_head(const ProjectionHead& h, const float* x, int64_t n, float* y) {
  std::vector<float> mid(static_cast<size_t>(n) * h.linear1.out);
  linear(h.linear1, x, n, mid.data());
  activate(h.act, mid.data(), static_cast<int64_t>(mid.size()));
  linear(h.linear2, mid.data(), n, y);
  l2_normalize_rows(y, n, h.linear2.out);
}

}  // namespace cc
