#include "core/gemm.h"

#include <mutex>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

namespace cc {

Result<Linear> load_linear(SafeTensors& w, const std::string& prefix, int in, int out, bool has_bias) {
  Linear l;
  l.in = in;
  l.out = out;
  CC_TRY(Tensor weight, w.get(prefix + ".weight", {out, in}));
  l.weight = weight.data;
  if (has_bias) {
    CC_TRY(Tensor bias, w.get(prefix + ".bias", {out}));
    l.bias = bias.data;
  }
  return l;
}

namespace {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

using dims_t = dnnl::memory::dims;

struct MatmulShape {
  dims_t a_dims, a_strides, b_dims, b_strides, c_dims, c_strides;
  bool bias = false;

  std::string key() const {
    std::string k = bias ? "b" : "n";
    for (const dims_t* d : {&a_dims, &a_strides, &b_dims, &b_strides, &c_dims, &c_strides}) {
      k += '|';
      for (auto v : *d) k += std::to_string(v) + ',';
    }
    return k;
  }
};

// Creating a primitive costs far more than running a small one, so each shape is made once.
dnnl::matmul& cached_matmul(const MatmulShape& s) {
  static std::mutex mutex;
  static std::unordered_map<std::string, dnnl::matmul> cache;
  const std::string key = s.key();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  using dt = dnnl::memory::data_type;
  dnnl::memory::desc a(s.a_dims, dt::f32, s.a_strides);
  dnnl::memory::desc b(s.b_dims, dt::f32, s.b_strides);
  dnnl::memory::desc c(s.c_dims, dt::f32, s.c_strides);
  dnnl::matmul::desc desc = s.bias ? dnnl::matmul::desc(a, b, dnnl::memory::desc({1, s.c_dims[1]}, dt::f32, {s.c_dims[1], 1}), c)
                                   : dnnl::matmul::desc(a, b, c);
  dnnl::matmul::primitive_desc pd(desc, cpu_engine());
  return cache.emplace(key, dnnl::matmul(pd)).first->second;
}

dnnl::memory wrap(const dims_t& dims, const dims_t& strides, const float* p) {
  return dnnl::memory(dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides), cpu_engine(),
                      const_cast<float*>(p));
}

}  // namespace

void linear(const Linear& l, const float* x, int64_t rows, float* y) {
  if (rows <= 0) return;
  MatmulShape s;
  s.a_dims = {rows, l.in};
  s.a_strides = {l.in, 1};
  s.b_dims = {l.in, l.out};  // Wᵀ, read from W[out, in] through strides
  s.b_strides = {1, l.in};
  s.c_dims = {rows, l.out};
  s.c_strides = {l.out, 1};
  s.bias = l.bias != nullptr;
  dnnl::matmul& mm = cached_matmul(s);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(s.a_dims, s.a_strides, x)},
                                             {DNNL_ARG_WEIGHTS, wrap(s.b_dims, s.b_strides, l.weight)},
                                             {DNNL_ARG_DST, wrap(s.c_dims, s.c_strides, y)}};
  if (l.bias) args.emplace(DNNL_ARG_BIAS, wrap({1, l.out}, {l.out, 1}, l.bias));
  mm.execute(thread_stream(), args);
  thread_stream().wait();
}

void batched_matmul(const MatrixView& a, const MatrixView& b, const MatrixView& c) {
  MatmulShape s;
  s.a_dims.assign(a.dims.begin(), a.dims.end());
  s.a_strides.assign(a.strides.begin(), a.strides.end());
  s.b_dims.assign(b.dims.begin(), b.dims.end());
  s.b_strides.assign(b.strides.begin(), b.strides.end());
  s.c_dims.assign(c.dims.begin(), c.dims.end());
  s.c_strides.assign(c.strides.begin(), c.strides.end());
  dnnl::matmul& mm = cached_matmul(s);
  mm.execute(thread_stream(), {{DNNL_ARG_SRC, wrap(s.a_dims, s.a_strides, a.data)},
                               {DNNL_ARG_WEIGHTS, wrap(s.b_dims, s.b_strides, b.data)},
                               {DNNL_ARG_DST, wrap(s.c_dims, s.c_strides, c.data)}});
  thread_stream().wait();
}

}  // namespace cc
