#include "core/gemm.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <list>
#include <optional>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

#include "core/scratch.h"
#include "core/simd.h"

namespace cc {

Result<Linear> load_linear(SafeTensors& w, const std::string& prefix, int in, int out, bool has_bias,
                           const LayerNorm* input_norm) {
  if (!w.gemm_weights()) return load_fp32_linear(w, prefix, in, out, has_bias);
  Linear l;
  l.in = in;
  l.out = out;
  CC_TRY(l.reduced, w.gemm_weights()->reduce(w, prefix + ".weight", in, out, input_norm));
  l.packed = l.reduced.packed;
  l.precision = l.packed ? Precision::kFp32 : w.gemm_weights()->precision();  // packed: fp32, or kept fp32 by the accuracy guard
  if (has_bias) {
    CC_TRY(Tensor bias, w.get(prefix + ".bias", {out}));
    l.bias = bias.data;
  }
  return l;
}

Result<Linear> load_patch_linear(SafeTensors& w, const std::string& name, const std::vector<int64_t>& stored) {
  Linear l;
  l.out = static_cast<int>(stored.at(0));
  l.in = static_cast<int>(stored.at(1) * stored.at(2) * stored.at(3));
  // fp32 at every precision, packed where the GEMM prefers it. Reduced, it cost the tiny
  // fixtures most of their margin (min cosine to fp32 on clip-tiny-c images: bf16 0.99955 ->
  // 0.99859; int8 0.99753 -> 0.99506 with bf16 patches, 0.99571 with int8 ones) for 3-5 % of
  // the int8 vision tower's time (README "Precision").
  if (w.gemm_weights() && gemm_prefers_packed_layout()) {
    CC_TRY(ReducedLinear packed, w.gemm_weights()->reduce(w, name, l.in, l.out, nullptr, stored, /*fp32=*/true));
    l.packed = packed.packed;
    return l;
  }
  CC_TRY(Tensor weight, w.get(name, stored));
  l.weight = weight.data;
  return l;
}

Result<Linear> load_fp32_linear(SafeTensors& w, const std::string& prefix, int in, int out, bool has_bias) {
  if (w.gemm_weights() && w.gemm_weights()->precision() == Precision::kFp32)  // packed: the same sums
    return load_linear(w, prefix, in, out, has_bias);
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

using dt = dnnl::memory::data_type;

// Wᵀ [in, out] in the blocked layout of its type: kPackedLayout, or reduced_layout's
dnnl::memory::desc packed_desc(const dims_t& dims, dt type = dt::f32) {
  using tag = dnnl::memory::format_tag;
  return dnnl::memory::desc(dims, type, type == dt::bf16 ? tag::BA16a64b2a : type == dt::s8 ? tag::BA16a64b4a : tag::BA16a64b);
}

struct MatmulShape {
  dims_t a_dims, a_strides, b_dims, b_strides, c_dims, c_strides;
  bool bias = false;
  bool b_packed = false;  // b is in kPackedLayout (b_strides unused)
  dt a_type = dt::f32, b_type = dt::f32, c_type = dt::f32;

  std::string key() const {
    std::string k = bias ? "b" : "n";
    if (b_packed) k += 'p';
    for (dt t : {a_type, b_type, c_type}) k += std::to_string(static_cast<int>(t));
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
  dnnl::memory::desc a(s.a_dims, s.a_type, s.a_strides);
  dnnl::memory::desc b = s.b_packed ? packed_desc(s.b_dims, s.b_type) : dnnl::memory::desc(s.b_dims, s.b_type, s.b_strides);
  dnnl::memory::desc c(s.c_dims, s.c_type, s.c_strides);
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

dnnl::memory wrap(const dims_t& dims, const dims_t& strides, const void* p, dt type = dt::f32) {
  return dnnl::memory(dnnl::memory::desc(dims, type, strides), cpu_engine(), const_cast<void*>(p));
}

// y[rows, out] = x[rows, in] · Wᵀ with W read as [out, in] through strides, in these types.
MatmulShape linear_shape(const Linear& l, int64_t rows, dt a_type, dt b_type, dt c_type) {
  MatmulShape s;
  s.a_dims = {rows, l.in};
  s.a_strides = {l.in, 1};
  s.b_dims = {l.in, l.out};
  s.b_strides = {1, l.in};
  s.c_dims = {rows, l.out};
  s.c_strides = {l.out, 1};
  s.a_type = a_type;
  s.b_type = b_type;
  s.c_type = c_type;
  return s;
}

// The weights argument: blocked (packed_desc) or [out, in] through the strides.
dnnl::memory weights_memory(const MatmulShape& s, const void* w) {
  if (s.b_packed) return dnnl::memory(packed_desc(s.b_dims, s.b_type), cpu_engine(), const_cast<void*>(w));
  return wrap(s.b_dims, s.b_strides, w, s.b_type);
}

void run(const Matmul& mm, std::unordered_map<int, dnnl::memory>& args) {
  thread_local std::vector<uint8_t> scratch;
  const size_t need = mm.scratch.get_size();
  if (scratch.size() < need) scratch.resize(need);
  if (need) args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(mm.scratch, cpu_engine(), scratch.data()));
  mm.primitive.execute(thread_stream(), args);
  thread_stream().wait();
}

// One row of activations as u8 with its own scale and zero point (per token: one outlier token
// does not coarsen the others): v_k = x_k / smooth_k, range [lo, hi] including 0 (so 0 stays
// exact: zero padding, ReLU), q_k = clamp(round(v_k / scale) + zero, 0, levels).
void quantise_row(const float* x, const float* smooth, int64_t in, float levels, uint8_t* q, float& scale, float& zero) {
  std::optional<Scratch> smoothed;  // only a smoothed row needs a copy
  const float* v = x;
  if (smooth) {
    smoothed.emplace(in);
    for (int64_t k = 0; k < in; ++k) (*smoothed)[k] = x[k] / smooth[k];
    v = smoothed->data();
  }
  float lo = 0, hi = 0;
  int64_t k = 0;
#if defined(__AVX512F__)
  __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
  for (; k + 16 <= in; k += 16) {
    const __m512 t = _mm512_loadu_ps(&v[k]);
    vlo = _mm512_min_ps(vlo, t);
    vhi = _mm512_max_ps(vhi, t);
  }
  lo = _mm512_reduce_min_ps(vlo);
  hi = _mm512_reduce_max_ps(vhi);
#endif
  for (; k < in; ++k) {
    lo = std::min(lo, v[k]);
    hi = std::max(hi, v[k]);
  }
  scale = hi > lo ? (hi - lo) / levels : 1.0f;
  zero = std::nearbyint(-lo / scale);
  k = 0;
#if defined(__AVX512F__)
  const __m512 vscale = _mm512_set1_ps(scale), vzero = _mm512_set1_ps(zero), vmax = _mm512_set1_ps(levels);
  for (; k + 16 <= in; k += 16) {  // the same operations as the loop below, sixteen at a time
    __m512 t = _mm512_roundscale_ps(_mm512_div_ps(_mm512_loadu_ps(&v[k]), vscale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    t = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(t, vzero), _mm512_setzero_ps()), vmax);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(t)));
  }
#endif
  for (; k < in; ++k) q[k] = static_cast<uint8_t>(std::clamp(std::nearbyint(v[k] / scale) + zero, 0.0f, levels));
}

// int8: each row of x, divided by smooth_k, is quantised to u8 (quantise_row); the GEMM sums
// u8 · s8 exactly in s32, and y = a_m · w_n · (acc - zero_m · Σ_k W'[n, k]) + b_n.
void linear_int8(const Linear& l, const float* x, int64_t rows, float* y) {
  const ReducedLinear& r = l.reduced;
  const int64_t in = l.in, out = l.out;
  const float levels = static_cast<float>(int8_activation_levels());
  Scratch quantised((rows * in + 3) / 4), row_scale(rows), row_zero(rows);
  auto* q = reinterpret_cast<uint8_t*>(quantised.data());
#pragma omp parallel for if (rows * in >= 65536)
  for (int64_t m = 0; m < rows; ++m) quantise_row(x + m * in, r.smooth, in, levels, q + m * in, row_scale[m], row_zero[m]);
  MatmulShape s = linear_shape(l, rows, dt::u8, dt::s8, dt::s32);
  s.b_packed = r.blocked;
  // The s32 sums are written where y goes and rescaled in place: one buffer through the cache,
  // not two (image batch 8 3.5 % faster).
  void* sums = y;
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(s.a_dims, s.a_strides, q, dt::u8)},
                                             {DNNL_ARG_WEIGHTS, weights_memory(s, r.q8)},
                                             {DNNL_ARG_DST, wrap(s.c_dims, s.c_strides, sums, dt::s32)}};
  run(cached_matmul(s), args);
#pragma omp parallel for if (rows * out >= 65536)
  for (int64_t m = 0; m < rows; ++m) {
    const int32_t zero = static_cast<int32_t>(row_zero[m]);
    const float a = row_scale[m];
    for (int64_t n = 0; n < out; ++n) {
      const int32_t exact = std::bit_cast<int32_t>(y[m * out + n]) - zero * r.column_sum[n];
      y[m * out + n] = a * r.scale[n] * static_cast<float>(exact) + (l.bias ? l.bias[n] : 0.0f);
    }
  }
}

// x rounded to bfloat16 (to nearest even, as float_to_bfloat16).
void to_bfloat16(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
#if defined(__AVX512BF16__)
  for (; i + 32 <= n; i += 32) {
    const __m512bh pair = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(out + i, reinterpret_cast<const __m512i&>(pair));
  }
#endif
  for (; i < n; ++i) out[i] = float_to_bfloat16(x[i]);
}

// bf16: activations rounded to bfloat16; the GEMM multiplies them by the bf16 weights and sums in
// fp32, natively where oneDNN has a bf16 GEMM, else as an fp32 GEMM on the same rounded values.
void linear_bf16(const Linear& l, const float* x, int64_t rows, float* y) {
  const int64_t n = rows * l.in;
  if (!l.reduced.bf16_as_fp32) {
    Scratch bits((n + 1) / 2);
    auto* a = reinterpret_cast<uint16_t*>(bits.data());
    to_bfloat16(x, n, a);
    MatmulShape s = linear_shape(l, rows, dt::bf16, dt::bf16, dt::f32);
    s.bias = l.bias != nullptr;
    s.b_packed = l.reduced.blocked;
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(s.a_dims, s.a_strides, a, dt::bf16)},
                                               {DNNL_ARG_WEIGHTS, weights_memory(s, l.reduced.bf16)},
                                               {DNNL_ARG_DST, wrap(s.c_dims, s.c_strides, y)}};
    if (l.bias) args.emplace(DNNL_ARG_BIAS, wrap({1, l.out}, {l.out, 1}, l.bias));
    run(cached_matmul(s), args);
    return;
  }
  Scratch rounded(n);
  for (int64_t i = 0; i < n; ++i) rounded[i] = bfloat16_to_float(float_to_bfloat16(x[i]));
  Linear fp32 = l;
  fp32.precision = Precision::kFp32;
  fp32.weight = l.reduced.bf16_as_fp32;
  fp32.packed = nullptr;
  linear(fp32, rounded.data(), rows, y);
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

const char* reduced_layout(Precision p) { return p == Precision::kInt8 ? "BA16a64b4a" : "BA16a64b2a"; }

bool gemm_prefers_reduced_layout(Precision p) {
  auto prefers = [](dt a, dt b, dt c) {
    if (const char* env = std::getenv("CLIPCLAP_PACKED"); env && std::string_view(env) == "always") return true;
    const int64_t rows = 10, in = 512, out = 512;
    try {
      dnnl::matmul::desc desc(dnnl::memory::desc({rows, in}, a, {in, 1}), dnnl::memory::desc({in, out}, b, dnnl::memory::format_tag::any),
                              dnnl::memory::desc({rows, out}, c, {out, 1}));
      return dnnl::matmul::primitive_desc(desc, cpu_engine()).weights_desc() == packed_desc({in, out}, b);
    } catch (const dnnl::error&) {  // no such GEMM here at all (bf16 without AVX-512)
      return false;
    }
  };
  static const bool bf16 = prefers(dt::bf16, dt::bf16, dt::f32), int8 = prefers(dt::u8, dt::s8, dt::s32);
  return p == Precision::kInt8 ? int8 : p == Precision::kBf16 ? bf16 : gemm_prefers_packed_layout();
}

std::vector<int64_t> reduced_packed_shape(Precision p, int in, int out) {
  const int g = p == Precision::kInt8 ? 4 : 2;
  return {(out + 63) / 64, (in + 16 * g - 1) / (16 * g), 16, 64 * g};
}

std::vector<uint8_t> pack_reduced_weight(Precision p, const void* weight, int in, int out) {
  const dt type = p == Precision::kInt8 ? dt::s8 : dt::bf16;
  const dnnl::memory::desc blocked = packed_desc({in, out}, type);
  std::vector<uint8_t> packed(blocked.get_size(), 0);
  dnnl::memory src = wrap({in, out}, {1, in}, weight, type), dst(blocked, cpu_engine(), packed.data());
  dnnl::reorder(src, dst).execute(thread_stream(), src, dst);
  thread_stream().wait();
  return packed;
}

void linear(const Linear& l, const float* x, int64_t rows, float* y) {
  if (rows <= 0) return;
  if (l.precision == Precision::kInt8) return linear_int8(l, x, rows, y);
  if (l.precision == Precision::kBf16) return linear_bf16(l, x, rows, y);
  MatmulShape s = linear_shape(l, rows, dt::f32, dt::f32, dt::f32);
  s.b_packed = l.packed != nullptr;
  s.bias = l.bias != nullptr;
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(s.a_dims, s.a_strides, x)},
                                             {DNNL_ARG_WEIGHTS, weights_memory(s, s.b_packed ? l.packed : l.weight)},
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
