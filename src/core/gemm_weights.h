// A checkpoint's linear weights in the form the GEMM reads fastest, for the precision a model
// runs in (`--precision`):
//   fp32: the same values in oneDNN's blocked layout (kPackedLayout, core/gemm.h), where this
//         machine's GEMM prefers it; exact (the same sums).
// The reduced precisions trade a little accuracy (README "Precision") for speed and memory:
//   bf16: weights rounded to bfloat16, activations rounded at each GEMM, fp32 accumulation;
//   int8: s8 weights with a scale per output channel; activations quantised per row (token)
//         to u8 with a zero point, at each GEMM; s32 accumulation, then rescaled in fp32.
// Layer norms, softmax, activations, residuals and attention's own products stay in fp32.
//
// They are made from the fp32 checkpoint when a model loads (as ONNX Runtime packs its weights
// when a session starts), or mapped from the file `clipclap pack [--precision]` wrote beside it,
// which holds the same numbers (core/packed_weights.h).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/activation_samples.h"
#include "core/result.h"
#include "core/safetensors.h"

namespace cc {

enum class Precision { kFp32, kBf16, kInt8 };
const char* precision_name(Precision p);  // "fp32", "bf16", "int8"
Result<Precision> parse_precision(const std::string& name);

struct LayerNorm;

// A linear layer's weights in the GEMM's form; null members are absent.
struct ReducedLinear {
  const float* packed = nullptr;    // fp32: W in kPackedLayout
  // int8: W'[n, k] = round(W[n, k] · smooth_k / scale_n), in PyTorch's [out, in] layout.
  const int8_t* q8 = nullptr;
  const float* scale = nullptr;     // [out]
  const int32_t* column_sum = nullptr;  // [out]: Σ_k W'[n, k], for the activations' zero points
  const float* smooth = nullptr;    // [in]: activations are multiplied by 1 / smooth_k first (null: 1)
  // bf16: the weights rounded to bfloat16, as bits ([out, in]) and, where the CPU has no bf16
  // GEMM, as the same values in fp32 for an fp32 GEMM (the products are the same).
  const uint16_t* bf16 = nullptr;
  const float* bf16_as_fp32 = nullptr;
  bool blocked = false;  // q8 / bf16 are in reduced_layout (core/gemm.h) rather than [out, in]
};

// float -> bfloat16, rounding to nearest even (as torch's .to(torch.bfloat16)).
uint16_t float_to_bfloat16(float f);

// The GEMM's weights of one checkpoint, for every linear layer a tower loads. One per
// SafeTensors (set_gemm_weights); the towers' Linear structs point into it.
class GemmWeights {
 public:
  explicit GemmWeights(Precision precision);
  // A file `clipclap pack` wrote: its tensors are used in place of making them.
  static Result<std::shared_ptr<GemmWeights>> map(const std::string& path, const std::vector<std::string>& prefixes,
                                                  Precision precision);

  Precision precision() const { return precision_; }
  // int8: what the layer norms produced on a calibration pass at fp32 (model/calibration.h),
  // for the layers made from now on.
  void set_calibration(std::shared_ptr<const ActivationSamples> samples) { calibration_ = std::move(samples); }
  // The layers (checkpoint weight names) made in fp32 from now on, whatever the precision: the
  // accuracy guard's choice (model/calibration.h). Mapped, the pack file's list.
  void keep_fp32(std::set<std::string> names) { kept_fp32_ = std::move(names); }
  const std::set<std::string>& kept_fp32() const { return kept_fp32_; }
  // The layers made or mapped in the reduced precision so far, by name.
  std::vector<std::string> reduced_layers() const;
  // The checkpoint weight `name` ([out, in], fp32) in this precision's form: from the file
  // when it has it, else made now. `input_norm`, the layer norm whose output the layer reads, if any,
  // lets int8 shift scale from outlier activation channels into the weights (SmoothQuant; see
  // int8_smoothing in the .cpp for how much, with or without calibration samples).
  // `stored`: the tensor's shape in the checkpoint when it is not [out, in] (a convolution's
  // [out, C, kh, kw], read as [out, C·kh·kw]). `fp32`: this layer stays exact (packed only),
  // as every kept_fp32 layer does. A layer asked for again is given what was made the first time.
  Result<ReducedLinear> reduce(SafeTensors& checkpoint, const std::string& name, int in, int out,
                               const LayerNorm* input_norm, const std::vector<int64_t>& stored = {}, bool fp32 = false);

  // Everything made or mapped so far, to write as a pack file.
  const std::vector<TensorView>& tensors() const;
  size_t bytes() const;
  bool mapped() const { return file_ != nullptr; }
  const std::map<std::string, std::string>& metadata() const;  // the file's (empty when made in memory)

 private:
  template <class T>
  const T* keep(const std::string& name, std::vector<int64_t> shape, std::vector<T> data, const char* dtype);
  // A bf16 or int8 weight, [out, in] (`bytes` of `plain`), kept in this machine's layout.
  const void* keep_weight(const std::string& name, int in, int out, const void* plain, size_t bytes, const char* dtype,
                          ReducedLinear& r);
  Result<ReducedLinear> make(SafeTensors& checkpoint, const std::string& name, int in, int out, const LayerNorm* input_norm,
                             const std::vector<int64_t>& shape, Precision precision);
  Result<bool> from_file(const std::string& name, int in, int out, Precision precision, ReducedLinear& r) const;

  Precision precision_;
  std::shared_ptr<const ActivationSamples> calibration_;
  std::set<std::string> kept_fp32_;
  std::map<std::string, ReducedLinear> made_;  // by name, and "name (fp32)" for the exact ones
  bool blocked_;  // the bf16 / int8 weights are in reduced_layout (gemm_weights_layout)
  std::unique_ptr<SafeTensors> file_;
  mutable std::deque<std::vector<uint8_t>> owned_;  // deque: element addresses stay stable
  mutable std::vector<TensorView> views_;
  struct Expanded {  // bf16 on a CPU without a bf16 GEMM: fp32 values, bits made for a pack file
    std::string name;
    std::vector<int64_t> shape;
    const float* values;
  };
  mutable std::vector<Expanded> expanded_;
};

// The pack file's metadata key that lists its kept_fp32 layers, comma-separated.
constexpr const char* kFp32LayersKey = "fp32_layers";

// How this machine's GEMM weights of a precision are laid out, as a pack file records it:
// kPackedLayout for fp32; for bf16 and int8 reduced_layout(p) (core/gemm.h) where the GEMM
// prefers it, else "out,in".
const char* gemm_weights_layout(Precision p);

// Whether this CPU's int8 GEMM adds u8·s8 pairs without saturating (VNNI does; AVX2's
// vpmaddubsw saturates at 16 bits): activations then use 8 bits, otherwise 7.
int int8_activation_levels();
// Whether oneDNN has a bf16 GEMM for this CPU (AVX-512 BF16, AMX); without one bf16 runs as
// an fp32 GEMM on bf16-rounded values: the same accuracy, fp32's speed.
bool bf16_gemm_native();

}  // namespace cc
