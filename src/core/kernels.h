// The small kernels the three towers share: layer norm, activations, softmax, residual add,
// L2 normalisation. Each reproduces the PyTorch op named beside it, in fp32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/safetensors.h"

namespace cc {

struct LayerNorm {
  const float* gamma = nullptr;
  const float* beta = nullptr;
  int dim = 0;
  float eps = 1e-5f;
};

Result<LayerNorm> load_layer_norm(SafeTensors& w, const std::string& prefix, int dim, float eps);

// torch.nn.LayerNorm over the last dimension; x and y may alias.
void layer_norm(const LayerNorm& ln, const float* x, int64_t rows, float* y);

// torch.nn.BatchNorm (eval) folded into a per-channel affine, as torch computes it:
// alpha = weight / sqrt(running_var + eps), beta = bias - running_mean * alpha.
struct BatchNorm {
  std::vector<float> alpha, beta;
};

Result<BatchNorm> load_batch_norm(SafeTensors& w, const std::string& prefix, int channels, float eps = 1e-5f);

// x: [rows, channels] (channels last), in place.
void batch_norm(const BatchNorm& bn, float* x, int64_t rows);

void quick_gelu(float* x, int64_t n);  // x · sigmoid(1.702 x), CLIP's activation
void gelu(float* x, int64_t n);        // exact erf GELU, torch's default
void relu(float* x, int64_t n);
void sigmoid(float* x, int64_t n);

enum class Activation { kQuickGelu, kGelu, kRelu };
Result<Activation> parse_activation(const std::string& hf_name);  // config.json "hidden_act"
void activate(Activation act, float* x, int64_t n);

void add_inplace(float* y, const float* x, int64_t n);  // y += x

// Numerically stable softmax of one row, in place.
void softmax(float* x, int n);

// Divides each row by its L2 norm (torch.nn.functional.normalize, eps 1e-12).
void l2_normalize_rows(float* x, int64_t rows, int dim);

}  // namespace cc
