#include "vision/clip_vision_tower.h"

#include <cstring>

#include "core/config.h"
#include "core/scratch.h"

namespace cc {

Result<ClipVisionConfig> read_clip_vision_config(const nlohmann::json& clip_config) {
  CC_TRY(nlohmann::json v, config_section(clip_config, "vision_config"));
  ClipVisionConfig c;  // defaults: transformers' CLIPVisionConfig
  CC_TRY(c.encoder.hidden, config_int(v, "hidden_size", 768));
  CC_TRY(c.encoder.intermediate, config_int(v, "intermediate_size", 3072));
  CC_TRY(c.encoder.heads, config_int(v, "num_attention_heads", 12));
  CC_TRY(c.encoder.eps, config_float(v, "layer_norm_eps", 1e-5f));
  CC_TRY(std::string act, config_string(v, "hidden_act", "quick_gelu"));
  CC_TRY(c.encoder.act, parse_activation(act));
  CC_TRY(c.layers, config_int(v, "num_hidden_layers", 12));
  CC_TRY(c.image_size, config_int(v, "image_size", 224));
  CC_TRY(c.patch_size, config_int(v, "patch_size", 32));
  CC_TRY(c.channels, config_int(v, "num_channels", 3));
  CC_TRY(c.projection_dim, config_int(clip_config, "projection_dim", 512));
  if (c.encoder.hidden <= 0 || c.encoder.heads <= 0 || c.encoder.hidden % c.encoder.heads != 0 ||
      c.encoder.intermediate <= 0 || c.layers < 0 || c.patch_size <= 0 || c.image_size < c.patch_size ||
      c.image_size > 16384 ||  // keeps grid() * grid() inside an int
      c.channels != 3 || c.projection_dim <= 0)
    return error("vision_config: inconsistent sizes");
  return c;
}

Result<ClipVisionTower> ClipVisionTower::load(SafeTensors& w, const ClipVisionConfig& c) {
  ClipVisionTower t;
  t.c_ = c;
  const int d = c.encoder.hidden, p = c.patch_size;
  const std::string e = "vision_model.embeddings.";
  CC_TRY(t.patch_embedding_, load_patch_linear(w, e + "patch_embedding.weight", {d, c.channels, p, p}));
  CC_TRY(t.class_embedding_, w.get(e + "class_embedding", {d}));
  CC_TRY(t.position_embedding_, w.get(e + "position_embedding.weight", {c.num_positions(), d}));
  CC_TRY(t.pre_layrnorm_, load_layer_norm(w, "vision_model.pre_layrnorm", d, c.encoder.eps));
  for (int i = 0; i < c.layers; ++i) {
    CC_TRY(EncoderLayer layer, load_encoder_layer(w, "vision_model.encoder.layers." + std::to_string(i), c.encoder));
    t.layers_.push_back(layer);
  }
  CC_TRY(t.post_layernorm_, load_layer_norm(w, "vision_model.post_layernorm", d, c.encoder.eps));
  CC_TRY(t.visual_projection_, load_fp32_linear(w, "visual_projection", d, c.projection_dim, false));
  return t;
}

Embeddings ClipVisionTower::embed(const float* pixels, int n) const {
  const int d = c_.encoder.hidden, p = c_.patch_size, g = c_.grid(), s = c_.image_size;
  const int patches = g * g, seq = patches + 1, patch_len = c_.channels * p * p;
  Embeddings out;
  out.count = n;
  out.dim = c_.projection_dim;
  if (n == 0) return out;

  // The patch convolution (stride = kernel = P, no bias) as im2col + GEMM; each patch is
  // flattened in the conv weight's (channel, row, column) order.
  Scratch cols(static_cast<size_t>(n) * patches * patch_len);
#pragma omp parallel for collapse(2)
  for (int b = 0; b < n; ++b) {
    for (int gy = 0; gy < g; ++gy) {
      for (int gx = 0; gx < g; ++gx) {
        float* dst = cols.data() + (static_cast<size_t>(b) * patches + gy * g + gx) * patch_len;
        for (int ch = 0; ch < c_.channels; ++ch) {
          const float* plane = pixels + (static_cast<size_t>(b) * c_.channels + ch) * s * s;
          for (int ky = 0; ky < p; ++ky) {
            std::memcpy(dst, plane + static_cast<size_t>(gy * p + ky) * s + gx * p, p * sizeof(float));
            dst += p;
          }
        }
      }
    }
  }
  Scratch patch_embeds(static_cast<size_t>(n) * patches * d);
  linear(patch_embedding_, cols.data(), static_cast<int64_t>(n) * patches, patch_embeds.data());

  // [CLS, patches...] + position embeddings, then the pre-LayerNorm.
  Scratch x(static_cast<size_t>(n) * seq * d);
  for (int b = 0; b < n; ++b) {
    for (int t = 0; t < seq; ++t) {
      float* row = x.data() + (static_cast<size_t>(b) * seq + t) * d;
      const float* src = t == 0 ? class_embedding_.data : patch_embeds.data() + (static_cast<size_t>(b) * patches + t - 1) * d;
      const float* pos = position_embedding_.data + static_cast<size_t>(t) * d;
      for (int i = 0; i < d; ++i) row[i] = src[i] + pos[i];
    }
  }
  layer_norm(pre_layrnorm_, x.data(), static_cast<int64_t>(n) * seq, x.data());

  for (const auto& layer : layers_) encoder_layer(layer, c_.encoder, x.data(), n, seq, {});

  // pooler_output = post_layernorm(last_hidden_state[:, 0]); then visual_projection.
  std::vector<float> pooled(static_cast<size_t>(n) * d);
  for (int b = 0; b < n; ++b)
    std::memcpy(pooled.data() + static_cast<size_t>(b) * d, x.data() + static_cast<size_t>(b) * seq * d, d * sizeof(float));
  layer_norm(post_layernorm_, pooled.data(), n, pooled.data());
  out.values.resize(static_cast<size_t>(n) * out.dim);
  linear(visual_projection_, pooled.data(), n, out.values.data());
  l2_normalize_rows(out.values.data(), n, out.dim);
  return out;
}

}  // namespace cc
