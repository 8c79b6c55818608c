#include "train/projection.h"

#include "core/file.h"
#include "core/safetensors.h"

namespace cc {

Projection Projection::identity(int dim, bool bias) {
  Projection p;
  p.in = p.out = dim;
  p.bias = bias;
  p.w.assign(static_cast<size_t>(dim) * dim, 0.0);
  for (int i = 0; i < dim; ++i) p.w[static_cast<size_t>(i) * dim + i] = 1.0;
  p.b.assign(dim, 0.0);
  return p;
}

void Projection::apply(const std::vector<double>& x, int64_t n, std::vector<double>& y) const {
  y.assign(static_cast<size_t>(n) * out, 0.0);
#pragma omp parallel for if (n * out * in >= (1 << 20))
  for (int64_t r = 0; r < n; ++r)
    for (int o = 0; o < out; ++o) {
      const double* xr = x.data() + r * in;
      const double* wo = w.data() + static_cast<size_t>(o) * in;
      double acc = b[o];
      for (int i = 0; i < in; ++i) acc += wo[i] * xr[i];
      y[r * out + o] = acc;
    }
}

Result<Projection> load_projection(const std::string& dir) {
  CC_TRY(SafeTensors st, SafeTensors::open(join_path(dir, "projection.safetensors")));
  CC_TRY(Tensor w, st.get("weight"));
  if (w.shape.size() != 2) return error(st.path() + ": 'weight' must be 2-D");
  Projection p = Projection::identity(static_cast<int>(w.shape[1]), st.contains("bias"));
  p.out = static_cast<int>(w.shape[0]);
  p.w.assign(w.data, w.data + w.numel());
  p.b.assign(p.out, 0.0);
  if (p.bias) {
    CC_TRY(Tensor b, st.get("bias", {p.out}));
    p.b.assign(b.data, b.data + p.out);
  }
  return p;
}

}  // namespace cc
