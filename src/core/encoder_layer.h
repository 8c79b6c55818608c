// The pre-LayerNorm transformer encoder layer shared by CLIP's text and vision towers
// (HF CLIPEncoderLayer):  x += out_proj(attn(layer_norm1(x)));  x += fc2(act(fc1(layer_norm2(x)))).
#pragma once

#include <string>

#include "core/attention.h"
#include "core/gemm.h"
#include "core/kernels.h"

namespace cc {

struct EncoderConfig {
  int hidden = 0, heads = 0, intermediate = 0;
  Activation act = Activation::kQuickGelu;
  float eps = 1e-5f;
};

struct EncoderLayer {
  LayerNorm layer_norm1, layer_norm2;
  Linear q_proj, k_proj, v_proj, out_proj, fc1, fc2;
};

// Weights under "<prefix>.self_attn.{q,k,v,out}_proj", "<prefix>.layer_norm{1,2}", "<prefix>.mlp.fc{1,2}".
Result<EncoderLayer> load_encoder_layer(SafeTensors& w, const std::string& prefix, const EncoderConfig& c);

// x: [batch * seq, hidden], updated in place.
void encoder_layer(const EncoderLayer& layer, const EncoderConfig& c, float* x, int batch, int seq,
                   const AttentionMask& mask);

}  // namespace cc
