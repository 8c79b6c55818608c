#include "core/gemm_weights.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include <dnnl.hpp>

#include "core/gemm.h"
#include "core/kernels.h"

namespace cc {

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kBf16: return "bf16";
    case Precision::kInt8: return "int8";
    default: return "fp32";
  }
}

Result<Precision> parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "int8") return Precision::kInt8;
  return error("unknown precision '" + name + "' (fp32, bf16 or int8)");
}

uint16_t float_to_bfloat16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN stays NaN
  bits += 0x7fffu + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

namespace {

constexpr int kWeightLevels = 127;  // s8 weights in [-127, 127]: symmetric, so no weight zero point

// A layer's int8 weights: W'[n, k] = round(W[n, k] · smooth_k / scale_n), scale_n from the
// row's largest magnitude; `smooth` empty: no smoothing.
struct Int8Weights {
  std::vector<int8_t> q;        // [out, in]
  std::vector<float> scale;     // [out]
  std::vector<int32_t> sum;     // [out]: Σ_k W'[n, k]
};

Int8Weights quantise_weights(const float* w, int in, int out, const std::vector<float>& smooth) {
  const size_t n_in = static_cast<size_t>(in);
  Int8Weights r{std::vector<int8_t>(n_in * out), std::vector<float>(out), std::vector<int32_t>(out)};
  const std::vector<float> ones(smooth.empty() ? n_in : 0, 1.0f);
  const float* factor = smooth.empty() ? ones.data() : smooth.data();
  // The loops are written for the vectoriser (omp simd): this runs for every layer and, with
  // calibration, for every α tried, a good part of an int8 model's load.
#pragma omp parallel for if (n_in * out >= 65536)
  for (int n = 0; n < out; ++n) {
    const float* row = w + n * n_in;
    int8_t* q = r.q.data() + n * n_in;
    float amax = 0;
#pragma omp simd reduction(max : amax)
    for (int k = 0; k < in; ++k) amax = std::max(amax, std::fabs(row[k] * factor[k]));
    const float levels = kWeightLevels;
    const float s = amax > 0 && std::isfinite(amax) ? amax / levels : 1.0f;
    int32_t total = 0;
#pragma omp simd reduction(+ : total)
    for (int k = 0; k < in; ++k) {
      float v = std::nearbyint(row[k] * factor[k] / s);
      v = std::fabs(v) <= levels ? v : (std::fabs(v) <= FLT_MAX ? std::copysign(levels, v) : 0.0f);  // ±inf, NaN: 0
      q[k] = static_cast<int8_t>(v);
      total += static_cast<int32_t>(v);
    }
    r.scale[n] = s;
    r.sum[n] = total;
  }
  return r;
}

// SmoothQuant's per-input-channel factor s_k = (range_k / max_n |W[n, k]|)^α: activations are
// divided by it, weights multiplied, so α of a channel's range moves into the weights. Empty
// when every factor is 1 (α = 0): the layer is not smoothed at all.
std::vector<float> smoothing_factors(const std::vector<float>& range, const float* w, int in, int out, double alpha) {
  std::vector<float> s(static_cast<size_t>(in), 1.0f), column_max(static_cast<size_t>(in), 0.0f);
  for (int n = 0; n < out; ++n)
    for (int k = 0; k < in; ++k) column_max[k] = std::max(column_max[k], std::fabs(w[static_cast<size_t>(n) * in + k]));
  bool any = false;
  for (int k = 0; k < in; ++k) {
    const float wmax = column_max[k];
    if (wmax > 0 && range[k] > 0 && std::isfinite(range[k] / wmax)) {
      s[k] = std::clamp(static_cast<float>(std::pow(range[k] / wmax, alpha)), 1.0f / 1024, 1024.0f);
      any = any || s[k] != 1.0f;
    }
  }
  return any ? s : std::vector<float>();
}

// A layer's smoothing factors (empty: none) and its int8 weights made with them.
struct SmoothedInt8 {
  std::vector<float> smooth;
  Int8Weights weights;
};

// How much to smooth a layer that reads `norm`'s output, and the weights that gives.
// - With calibration samples of that output: range_k is each channel's measured maximum, and
//   α is the one of kAlphas whose int8 layer (the GEMM int8 runs, on these weights) comes
//   closest to the fp32 layer on the sampled rows, as AWQ searches its scales. Closest: the
//   squared error of each row relative to the row's own size, summed, so that every token
//   counts as a cosine would count it (absolute error let a few large rows decide, and the
//   fixtures' worst cosines moved with the calibration inputs; README "Precision").
// - Without: range_k is |γ_k| + |β_k| (the layer norm's output range up to a factor common to
//   every channel, which the row and channel scales absorb), and α = 1/2. It catches outliers
//   planted through γ, not those already in the normalised input.
SmoothedInt8 int8_smoothing(const LayerNorm& norm, const ActivationSamples::Norm* samples, const float* w, int in, int out,
                            bool blocked) {
  if (!samples || samples->dim != in || samples->count() == 0) {
    std::vector<float> range(static_cast<size_t>(in));
    for (int k = 0; k < in; ++k) range[k] = std::fabs(norm.gamma[k]) + (norm.beta ? std::fabs(norm.beta[k]) : 0.0f);
    std::vector<float> smooth = smoothing_factors(range, w, in, out, 0.5);
    Int8Weights q = quantise_weights(w, in, out, smooth);
    return {std::move(smooth), std::move(q)};
  }
  static constexpr double kAlphas[] = {0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75};
  const int64_t rows = samples->count();
  Linear exact;
  exact.weight = w;
  exact.in = in;
  exact.out = out;
  std::vector<float> want(static_cast<size_t>(rows) * out), got(want.size());
  linear(exact, samples->rows.data(), rows, want.data());
  SmoothedInt8 best;
  double best_error = INFINITY;
  for (double alpha : kAlphas) {
    std::vector<float> smooth = smoothing_factors(samples->channel_max, w, in, out, alpha);
    if (alpha > 0 && smooth.empty()) continue;  // the same layer as α = 0
    Int8Weights q = quantise_weights(w, in, out, smooth);
    Linear l = exact;
    l.weight = nullptr;
    l.precision = Precision::kInt8;
    std::vector<uint8_t> packed;
    if (blocked) packed = pack_reduced_weight(Precision::kInt8, q.q.data(), in, out);
    l.reduced.q8 = blocked ? reinterpret_cast<const int8_t*>(packed.data()) : q.q.data();
    l.reduced.blocked = blocked;
    l.reduced.scale = q.scale.data();
    l.reduced.column_sum = q.sum.data();
    l.reduced.smooth = smooth.empty() ? nullptr : smooth.data();
    linear(l, samples->rows.data(), rows, got.data());
    std::vector<double> row_error(static_cast<size_t>(rows));
#pragma omp parallel for
    for (int64_t m = 0; m < rows; ++m) {
      const float* g = got.data() + m * out;
      const float* t = want.data() + m * out;
      double e = 0, size = 0;
#pragma omp simd reduction(+ : e, size)
      for (int n = 0; n < out; ++n) {
        const double d = static_cast<double>(g[n]) - t[n];
        e += d * d;
        size += static_cast<double>(t[n]) * t[n];
      }
      row_error[m] = size > 0 ? e / size : e;
    }
    double error = 0;  // summed in row order: the same choice on any number of threads
    for (double e : row_error) error += e;
    if (error < best_error) {
      best_error = error;
      best = {std::move(smooth), std::move(q)};
    }
  }
  return best;
}

}  // namespace

const char* gemm_weights_layout(Precision p) {
  if (p == Precision::kFp32) return kPackedLayout;
  const bool native = p == Precision::kInt8 || bf16_gemm_native();  // emulated bf16 runs an fp32 GEMM on [out, in]
  return native && gemm_prefers_reduced_layout(p) ? reduced_layout(p) : "out,in";
}

GemmWeights::GemmWeights(Precision precision)
    : precision_(precision), blocked_(precision != Precision::kFp32 && std::string(gemm_weights_layout(precision)) != "out,in") {}

template <class T>
const T* GemmWeights::keep(const std::string& name, std::vector<int64_t> shape, std::vector<T> data,
                                   const char* dtype) {
  std::vector<uint8_t>& bytes = owned_.emplace_back(data.size() * sizeof(T));
  std::memcpy(bytes.data(), data.data(), bytes.size());
  views_.push_back({name, std::move(shape), bytes.data(), dtype, bytes.size()});
  return reinterpret_cast<const T*>(bytes.data());
}

const void* GemmWeights::keep_weight(const std::string& name, int in, int out, const void* plain, size_t bytes, const char* dtype,
                                     ReducedLinear& r) {
  r.blocked = blocked_;
  if (blocked_) return keep(name, reduced_packed_shape(precision_, in, out), pack_reduced_weight(precision_, plain, in, out), dtype);
  const auto* p = static_cast<const uint8_t*>(plain);
  return keep(name, {out, in}, std::vector<uint8_t>(p, p + bytes), dtype);
}

Result<ReducedLinear> GemmWeights::reduce(SafeTensors& checkpoint, const std::string& name, int in, int out,
                                          const LayerNorm* input_norm, const std::vector<int64_t>& stored, bool fp32) {
  const std::vector<int64_t> shape = stored.empty() ? std::vector<int64_t>{out, in} : stored;
  CC_CHECK(checkpoint.check(name, shape));  // reads nothing: a mapped layer's weight is not even converted
  const Precision precision = fp32 || kept_fp32_.contains(name) ? Precision::kFp32 : precision_;
  const std::string key = precision == Precision::kFp32 ? name + " (fp32)" : name;
  if (auto it = made_.find(key); it != made_.end()) return it->second;
  ReducedLinear r;
  CC_TRY(bool found, from_file(name, in, out, precision, r));
  if (!found) {
    CC_TRY(r, make(checkpoint, name, in, out, input_norm, shape, precision));
  }
  made_[key] = r;
  return r;
}

std::vector<std::string> GemmWeights::reduced_layers() const {
  std::vector<std::string> names;
  for (const auto& [key, r] : made_)
    if (!r.packed) names.push_back(key);
  return names;
}

Result<ReducedLinear> GemmWeights::make(SafeTensors& checkpoint, const std::string& name, int in, int out,
                                        const LayerNorm* input_norm, const std::vector<int64_t>& shape, Precision precision) {
  ReducedLinear r;
  CC_TRY(Tensor weight, checkpoint.get(name, shape));
  const float* w = weight.data;
  const size_t n_in = static_cast<size_t>(in);
  if (precision == Precision::kFp32) {
    r.packed = keep(name, packed_shape(in, out), pack_weight(w, in, out), "F32");
    return r;
  }
  if (precision_ == Precision::kBf16) {
    if (bf16_gemm_native()) {
      std::vector<uint16_t> bits(n_in * out);
      for (size_t i = 0; i < bits.size(); ++i) bits[i] = float_to_bfloat16(w[i]);
      r.bf16 = static_cast<const uint16_t*>(keep_weight(name, in, out, bits.data(), bits.size() * 2, "BF16", r));
    } else {  // only the rounded values are kept; a pack file gets their bits when it is written
      std::vector<uint8_t>& bytes = owned_.emplace_back(n_in * out * 4);
      float* values = reinterpret_cast<float*>(bytes.data());
      for (size_t i = 0; i < n_in * out; ++i) values[i] = bfloat16_to_float(float_to_bfloat16(w[i]));
      r.bf16_as_fp32 = values;
      expanded_.push_back({name, {out, in}, values});
    }
    return r;
  }
  SmoothedInt8 layer = input_norm ? int8_smoothing(*input_norm, calibration_ ? calibration_->find(*input_norm) : nullptr, w, in, out, blocked_)
                                   : SmoothedInt8{{}, quantise_weights(w, in, out, {})};
  std::vector<float>& smooth = layer.smooth;
  Int8Weights& q = layer.weights;
  r.scale = keep(name + ".scale", {out}, std::move(q.scale), "F32");
  r.column_sum = keep(name + ".sum", {out}, std::move(q.sum), "I32");
  if (!smooth.empty()) r.smooth = keep(name + ".smooth", {in}, std::move(smooth), "F32");
  r.q8 = static_cast<const int8_t*>(keep_weight(name, in, out, q.q.data(), q.q.size(), "I8", r));
  return r;
}

Result<bool> GemmWeights::from_file(const std::string& name, int in, int out, Precision precision, ReducedLinear& r) const {
  if (!file_ || !file_->contains(name)) return false;
  auto get = [&](const std::string& n, const char* dtype, std::vector<int64_t> shape, bool required) -> Result<const void*> {
    if (!file_->contains(n)) {
      if (required) return error(file_->path() + ": lacks '" + n + "'");
      return nullptr;
    }
    CC_TRY(SafeTensors::Raw raw, file_->raw(n));
    if (raw.shape != shape)
      return error(file_->path() + ": tensor '" + n + "' has shape " + shape_string(raw.shape) + ", expected " + shape_string(shape));
    if (raw.dtype != dtype) return error(file_->path() + ": tensor '" + n + "' is " + raw.dtype + ", expected " + dtype);
    if (reinterpret_cast<uintptr_t>(raw.data) % 4 != 0 && std::string(dtype) != "I8")
      return error(file_->path() + ": '" + n + "' is not aligned");
    return raw.data;
  };
  if (precision == Precision::kFp32) {
    CC_TRY(const void* packed, get(name, "F32", packed_shape(in, out), true));
    r.packed = static_cast<const float*>(packed);
    return true;
  }
  const std::vector<int64_t> shape = blocked_ ? reduced_packed_shape(precision_, in, out) : std::vector<int64_t>{out, in};
  r.blocked = blocked_;
  if (precision_ == Precision::kBf16) {
    CC_TRY(const void* bits, get(name, "BF16", shape, true));
    r.bf16 = static_cast<const uint16_t*>(bits);
    if (!bf16_gemm_native()) {
      auto* self = const_cast<GemmWeights*>(this);
      std::vector<uint8_t>& values = self->owned_.emplace_back(static_cast<size_t>(in) * out * 4);
      float* v = reinterpret_cast<float*>(values.data());
      for (size_t i = 0; i < static_cast<size_t>(in) * out; ++i) v[i] = bfloat16_to_float(r.bf16[i]);
      r.bf16_as_fp32 = v;
    }
    return true;
  }
  CC_TRY(const void* q, get(name, "I8", shape, true));
  CC_TRY(const void* scale, get(name + ".scale", "F32", {out}, true));
  CC_TRY(const void* sum, get(name + ".sum", "I32", {out}, true));
  CC_TRY(const void* smooth, get(name + ".smooth", "F32", {in}, false));
  r.q8 = static_cast<const int8_t*>(q);
  r.scale = static_cast<const float*>(scale);
  r.column_sum = static_cast<const int32_t*>(sum);
  r.smooth = static_cast<const float*>(smooth);
  return true;
}

Result<std::shared_ptr<GemmWeights>> GemmWeights::map(const std::string& path, const std::vector<std::string>& prefixes,
                                                      Precision precision) {
  CC_TRY(SafeTensors file, SafeTensors::open(path, prefixes));
  auto w = std::make_shared<GemmWeights>(precision);
  w->file_ = std::make_unique<SafeTensors>(std::move(file));
  for (const std::string& name : w->file_->names()) {
    CC_TRY(SafeTensors::Raw raw, w->file_->raw(name));
    w->views_.push_back({name, raw.shape, raw.data, raw.dtype, raw.bytes});
  }
  if (auto it = w->metadata().find(kFp32LayersKey); it != w->metadata().end()) {
    std::set<std::string> kept;
    for (size_t start = 0; start < it->second.size();) {
      const size_t comma = std::min(it->second.find(',', start), it->second.size());
      const std::string name = it->second.substr(start, comma - start);
      if (w->file_->contains(name)) kept.insert(name);  // a bundle's file lists every tower's; this map has some
      start = comma + 1;
    }
    w->keep_fp32(std::move(kept));
  }
  return w;
}

const std::vector<TensorView>& GemmWeights::tensors() const {
  for (const Expanded& e : expanded_) {  // bf16 kept as fp32 values: their bits, once
    std::vector<uint8_t>& bytes = owned_.emplace_back(static_cast<size_t>(e.shape[0] * e.shape[1]) * 2);
    auto* bits = reinterpret_cast<uint16_t*>(bytes.data());
    for (size_t i = 0; i < bytes.size() / 2; ++i) bits[i] = float_to_bfloat16(e.values[i]);
    views_.push_back({e.name, e.shape, bits, "BF16", bytes.size()});
  }
  expanded_.clear();
  return views_;
}

const std::map<std::string, std::string>& GemmWeights::metadata() const {
  static const std::map<std::string, std::string> none;
  return file_ ? file_->metadata() : none;
}

size_t GemmWeights::bytes() const {
  size_t total = 0;
  for (const auto& v : views_) total += v.bytes;
  for (const auto& e : expanded_) total += static_cast<size_t>(e.shape[0] * e.shape[1]) * 4;
  return total;
}

int int8_activation_levels() {
  static const int levels = [] {
    // 255 · 127 · 2 overflows 16 bits: a GEMM that saturates there gives less than the exact sum.
    using dt = dnnl::memory::data_type;
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const int64_t m = 2, k = 64, n = 16;
    dnnl::memory a({{m, k}, dt::u8, {k, 1}}, engine), b({{k, n}, dt::s8, {1, k}}, engine), c({{m, n}, dt::s32, {n, 1}}, engine);
    std::memset(a.get_data_handle(), 255, m * k);
    std::memset(b.get_data_handle(), 127, k * n);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a.get_desc(), b.get_desc(), c.get_desc()), engine);
    dnnl::matmul(pd).execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    stream.wait();
    return static_cast<int32_t*>(c.get_data_handle())[0] == 255 * 127 * k ? 255 : 127;
  }();
  return levels;
}

bool bf16_gemm_native() {
  static const bool native = [] {
    // A bf16 GEMM that exists, is not a reference loop, and gives the fp32 sums of the same
    // bf16 values (within fp32 rounding) on a small product: otherwise bf16 is emulated.
    using dt = dnnl::memory::data_type;
    try {
      dnnl::engine engine(dnnl::engine::kind::cpu, 0);
      dnnl::stream stream(engine);
      const int64_t m = 16, k = 64, n = 32;
      dnnl::memory::desc a_desc({m, k}, dt::bf16, {k, 1}), b_desc({k, n}, dt::bf16, {1, k}), c_desc({m, n}, dt::f32, {n, 1});
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_desc, b_desc, c_desc), engine);
      if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) return false;
      std::vector<uint16_t> a(m * k), b(k * n);  // b as W [n, k]
      std::vector<float> c(m * n);
      for (int64_t i = 0; i < m * k; ++i) a[i] = float_to_bfloat16(static_cast<float>((i * 7) % 13) / 8 - 0.75f);
      for (int64_t i = 0; i < k * n; ++i) b[i] = float_to_bfloat16(static_cast<float>((i * 5) % 11) / 16 - 0.3f);
      dnnl::memory am(a_desc, engine, a.data()), bm(b_desc, engine, b.data()), cm(c_desc, engine, c.data());
      dnnl::matmul(pd).execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
      stream.wait();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double want = 0;
          for (int64_t t = 0; t < k; ++t) want += double(bfloat16_to_float(a[i * k + t])) * bfloat16_to_float(b[j * k + t]);
          if (std::fabs(c[i * n + j] - want) > 1e-4 * (1 + std::fabs(want))) return false;
        }
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return native;
}

}  // namespace cc
