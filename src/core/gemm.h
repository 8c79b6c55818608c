// Matrix products, all through oneDNN's matmul primitive. Weights are read in place from the
// memory-mapped checkpoint (PyTorch's [out, in] layout), or from a packed copy made once by
// `clipclap pack` and mapped the same way (core/packed_weights.h), so loading copies nothing.
// Why oneDNN and not OpenBLAS: measured on the towers' shapes, see README "GEMM back end".
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/gemm_weights.h"
#include "core/result.h"
#include "core/safetensors.h"

namespace cc {

// nn.Linear: y = x · Wᵀ + b, with W of shape [out, in].
struct Linear {
  const float* weight = nullptr;  // null when `packed` is set
  const float* bias = nullptr;    // null when the layer has none
  int in = 0, out = 0;
  const float* packed = nullptr;  // W in kPackedLayout (from packed weights), used instead of `weight`
  Precision precision = Precision::kFp32;
  ReducedLinear reduced = {};  // the bf16 or int8 weights, when precision says so
};

struct LayerNorm;

// Takes the packed copy of the weight too when `w` has one, and its bf16 or int8 form when `w`
// has low-precision weights (SafeTensors::low_precision). `input_norm`: the layer norm this layer
// reads the output of, if any (int8 uses it, see GemmWeights::reduce).
Result<Linear> load_linear(SafeTensors& w, const std::string& prefix, int in, int out, bool has_bias,
                           const LayerNorm* input_norm = nullptr);
// A convolution whose stride is its kernel, as the linear layer of im2col: the weight
// [out, C, kh, kw] (`stored`) read as [out, in = C·kh·kw], no bias.
Result<Linear> load_patch_linear(SafeTensors& w, const std::string& name, const std::vector<int64_t>& stored);
// The same, always fp32 (packed too, where fp32 is): for the final projections, which int8 and bf16 leave alone (they cost
// ~0.1 % of a tower's time and their errors go straight into the vector; README "Precision").
Result<Linear> load_fp32_linear(SafeTensors& w, const std::string& prefix, int in, int out, bool has_bias);

// The packed layout is oneDNN's BA16a64b for Wᵀ [in, out]: panels of 64 outputs, each panel in
// blocks of 16 inputs × 64 outputs, outputs contiguous, zero-padded to whole blocks. oneDNN's
// matmul chooses it for every shape on AVX-512 and reads it from memory ~1.5-2× faster than
// [out, in] when few rows share each weight (text at batch 1; README "Packed weights").
constexpr const char* kPackedLayout = "BA16a64b";
std::vector<int64_t> packed_shape(int in, int out);  // {⌈out/64⌉, ⌈in/16⌉, 16, 64}
std::vector<float> pack_weight(const float* weight, int in, int out);
// A layer's weight in PyTorch's [out, in] layout, however it is held (unpacked if packed).
std::vector<float> plain_weight(const Linear& l);
// Whether this machine's oneDNN prefers kPackedLayout (it does not, e.g., without AVX-512),
// or CLIPCLAP_PACKED=always asks for packed weights regardless.
bool gemm_prefers_packed_layout();

// The same for bf16 and int8 weights: oneDNN's blocked layouts BA16a64b2a (pairs of inputs
// interleaved, as vdpbf16ps reads them) and BA16a64b4a (groups of four, as vpdpbusd reads them),
// in blocks of 32 (bf16) or 64 (int8) inputs × 64 outputs. Where oneDNN chooses them
// (AVX-512 BF16 / VNNI), its matmul reads them 1.3-1.8× faster than [out, in] at M = 12-50
// (README "Precision"); elsewhere the reduced weights stay [out, in].
const char* reduced_layout(Precision p);  // "BA16a64b2a", "BA16a64b4a"
bool gemm_prefers_reduced_layout(Precision p);
// {⌈out/64⌉, ⌈in/(16·g)⌉, 16, 64·g} with g = 2 (bf16) or 4 (int8)
std::vector<int64_t> reduced_packed_shape(Precision p, int in, int out);
// W [out, in] (bf16 bits or s8) in reduced_layout(p), zero-padded to reduced_packed_shape.
std::vector<uint8_t> pack_reduced_weight(Precision p, const void* weight, int in, int out);

// y[rows, out] = x[rows, in] · Wᵀ + b
void linear(const Linear& layer, const float* x, int64_t rows, float* y);

// A 4-D strided view of a float matrix batch: dims {b0, b1, rows, cols}.
struct MatrixView {
  float* data;
  std::array<int64_t, 4> dims;
  std::array<int64_t, 4> strides;
};

// c[i, j] = a[i, j] · b[i, j] for every batch index (i, j); used by attention.
void batched_matmul(const MatrixView& a, const MatrixView& b, const MatrixView& c);

}  // namespace cc
