#include "core/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <list>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

namespace cc {

Result<Linear> load_linear(SafeTensors& w, const std::string& prefix, int in, int out, bool has_bias) {
  Linear l;
  l.in = in;
  l.out = out;
  const std::string name = prefix + ".weight";
  if (w.packed() && w.packed()->contains(name)) {
    CC_CHECK(w.check(name, {out, in}));  // not read: an fp16 checkpoint's weight is not even converted
    CC_TRY(Tensor packed, w.packed()->get(name, packed_shape(in, out)));
    l.packed = packed.data;
  } else {
    CC_TRY(Tensor weight, w.get(name, {out, in}));
    l.weight = weight.data;
  }
  if (has_bias) {
    CC_TRY(Tensor bias, w.get(prefix + ".bias", {out}));
    l.bias = bias.data;
  }
  return l;
}

std::vector<int64_t> packed_shape(int in, int out) { return {(out + 63) / 64, (in + 15) / 16, 16, 64}; }

std::vector<float> pack_weight(const float* weight, int in, int out) {
  const auto shape = packed_shape(in, out);
  std::vector<float> packed(static_cast<size_t>(shape[0] * shape[1] * 16 * 64), 0.0f);
  float* p = packed.data();
  for (int n0 = 0; n0 < out; n0 += 64)
    for (int k0 = 0; k0 < static_cast<int>(shape[1]) * 16; k0 += 16, p += 16 * 64)
      for (int k = k0; k < std::min(k0 + 16, in); ++k)
        for (int n = n0; n < std::min(n0 + 64, out); ++n) p[(k - k0) * 64 + (n - n0)] = weight[static_cast<size_t>(n) * in + k];
  return packed;
}

std::vector<float> plain_weight(const Linear& l) {
  if (!l.packed) return std::vector<float>(l.weight, l.weight + static_cast<size_t>(l.out) * l.in);
  std::vector<float> w(static_cast<size_t>(l.out) * l.in);
  const int64_t blocks = packed_shape(l.in, l.out)[1];
  for (int n = 0; n < l.out; ++n)
    for (int k = 0; k < l.in; ++k)  // the inverse of pack_weight's index
      w[static_cast<size_t>(n) * l.in + k] = l.packed[((static_cast<size_t>(n / 64) * blocks + k / 16) * 16 + k % 16) * 64 + n % 64];
  return w;
}

namespace {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine = [] {
    // cached_matmul below keeps the primitives; oneDNN's own cache (1,024 entries by default)
    // would hold a second, larger set alive, which a server with many shapes fills slowly.
    dnnl::set_primitive_cache_capacity(0);
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

using dims_t = dnnl::memory::dims;

dnnl::memory::desc packed_desc(const dims_t& dims) {
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, dnnl::memory::format_tag::BA16a64b);
}

struct MatmulShape {
  dims_t a_dims, a_strides, b_dims, b_strides, c_dims, c_strides;
  bool bias = false;
  bool b_packed = false;  // b is in kPackedLayout (b_strides unused)

  std::string key() const {
    std::string k = bias ? "b" : "n";
    if (b_packed) k += 'p';
    for (const dims_t* d : {&a_dims, &a_strides, &b_dims, &b_strides, &c_dims, &c_strides}) {
      k += '|';
      for (auto v : *d) k += std::to_string(v) + ',';
    }
    return k;
  }
};

// Creating a primitive costs far more than running a small one, so recent shapes are kept.
// The cache is bounded (least recently used out): a server sees a new shape for every batch
// size and text length, and an unbounded cache grew by ~4 MB/s under load. Measured: a cached
// primitive holds ~50 KB (mostly JIT code) and a new one takes ~0.3 ms to make, so a small
// cache costs little when shapes churn and keeps RSS flat (the soak test: 256 entries took
// 12 s to fill and kept RSS rising; 128 fill in the warm-up).
constexpr size_t kMatmulCacheEntries = 128;

// A primitive and the scratch memory it needs. Scratch is supplied per call from one growing
// buffer per thread (scratchpad_mode::user): with oneDNN's default, every cached primitive
// keeps its own scratch buffer alive, which for a server's many shapes adds up to hundreds of MB.
struct Matmul {
  dnnl::matmul primitive;  // a handle: copies share the primitive
  dnnl::memory::desc scratch;
};

Matmul cached_matmul(const MatmulShape& s) {
  static std::mutex mutex;
  static std::list<std::pair<std::string, Matmul>> recent;  // most recent first
  static std::unordered_map<std::string, decltype(recent)::iterator> cache;
  const std::string key = s.key();
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) {
    recent.splice(recent.begin(), recent, it->second);
    return it->second->second;
  }
  using dt = dnnl::memory::data_type;
  dnnl::memory::desc a(s.a_dims, dt::f32, s.a_strides);
  dnnl::memory::desc b = s.b_packed ? packed_desc(s.b_dims) : dnnl::memory::desc(s.b_dims, dt::f32, s.b_strides);
  dnnl::memory::desc c(s.c_dims, dt::f32, s.c_strides);
  dnnl::matmul::desc desc = s.bias ? dnnl::matmul::desc(a, b, dnnl::memory::desc({1, s.c_dims[1]}, dt::f32, {s.c_dims[1], 1}), c)
                                   : dnnl::matmul::desc(a, b, c);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
  recent.emplace_front(key, Matmul{dnnl::matmul(pd), pd.scratchpad_desc()});
  cache[key] = recent.begin();
  if (recent.size() > kMatmulCacheEntries) {
    cache.erase(recent.back().first);
    recent.pop_back();
  }
  return recent.front().second;
}

dnnl::memory wrap(const dims_t& dims, const dims_t& strides, const float* p) {
  return dnnl::memory(dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides), cpu_engine(),
                      const_cast<float*>(p));
}

void run(const Matmul& mm, std::unordered_map<int, dnnl::memory>& args) {
  thread_local std::vector<uint8_t> scratch;
  const size_t need = mm.scratch.get_size();
  if (scratch.size() < need) scratch.resize(need);
  if (need) args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(mm.scratch, cpu_engine(), scratch.data()));
  mm.primitive.execute(thread_stream(), args);
  thread_stream().wait();
}

}  // namespace

bool gemm_prefers_packed_layout() {
  static const bool prefers = [] {
    // CLIPCLAP_PACKED=always: packed weights are used on any machine (where oneDNN would choose
    // another layout they are slower, but the same sums): the tests set it so that the packed
    // path runs everywhere.
    if (const char* env = std::getenv("CLIPCLAP_PACKED"); env && std::string_view(env) == "always") return true;
    using dt = dnnl::memory::data_type;
    const int64_t rows = 10, in = 512, out = 512;
    dnnl::matmul::desc desc(dnnl::memory::desc({rows, in}, dt::f32, {in, 1}),
                            dnnl::memory::desc({in, out}, dt::f32, dnnl::memory::format_tag::any),
                            dnnl::memory::desc({rows, out}, dt::f32, {out, 1}));
    return dnnl::matmul::primitive_desc(desc, cpu_engine()).weights_desc() == packed_desc({in, out});
  }();
  return prefers;
}

void linear(const Linear& l, const float* x, int64_t rows, float* y) {
  if (rows <= 0) return;
  MatmulShape s;
  s.a_dims = {rows, l.in};
  s.a_strides = {l.in, 1};
  s.b_dims = {l.in, l.out};  // Wᵀ, read from W[out, in] through strides
  s.b_strides = {1, l.in};
  s.b_packed = l.packed != nullptr;
  s.c_dims = {rows, l.out};
  s.c_strides = {l.out, 1};
  s.bias = l.bias != nullptr;
  dnnl::memory weights = s.b_packed ? dnnl::memory(packed_desc(s.b_dims), cpu_engine(), const_cast<float*>(l.packed))
                                    : wrap(s.b_dims, s.b_strides, l.weight);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(s.a_dims, s.a_strides, x)},
                                             {DNNL_ARG_WEIGHTS, weights},
                                             {DNNL_ARG_DST, wrap(s.c_dims, s.c_strides, y)}};
  if (l.bias) args.emplace(DNNL_ARG_BIAS, wrap({1, l.out}, {l.out, 1}, l.bias));
  run(cached_matmul(s), args);
}

void batched_matmul(const MatrixView& a, const MatrixView& b, const MatrixView& c) {
  MatmulShape s;
  s.a_dims.assign(a.dims.begin(), a.dims.end());
  s.a_strides.assign(a.strides.begin(), a.strides.end());
  s.b_dims.assign(b.dims.begin(), b.dims.end());
  s.b_strides.assign(b.strides.begin(), b.strides.end());
  s.c_dims.assign(c.dims.begin(), c.dims.end());
  s.c_strides.assign(c.strides.begin(), c.strides.end());
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(s.a_dims, s.a_strides, a.data)},
                                             {DNNL_ARG_WEIGHTS, wrap(s.b_dims, s.b_strides, b.data)},
                                             {DNNL_ARG_DST, wrap(s.c_dims, s.c_strides, c.data)}};
  run(cached_matmul(s), args);
}

}  // namespace cc
