// CLIP's vision tower (HF CLIPVisionModel + visual_projection): patch convolution, class
// token, position embeddings, pre-LayerNorm, encoder, post-LayerNorm on the class token,
// projection, L2 normalisation. Matches `CLIPModel.get_image_features`, normalised.
#pragma once

#include <nlohmann/json.hpp>

#include "core/embeddings.h"
#include "core/encoder_layer.h"

namespace cc {

struct ClipVisionConfig {
  EncoderConfig encoder;
  int layers = 12;
  int image_size = 224;
  int patch_size = 32;
  int channels = 3;
  int projection_dim = 512;

  int grid() const { return image_size / patch_size; }  // the conv drops a remainder
  int num_positions() const { return grid() * grid() + 1; }
};

// From a CLIPModel config.json (its "vision_config" section and "projection_dim").
Result<ClipVisionConfig> read_clip_vision_config(const nlohmann::json& clip_config);

class ClipVisionTower {
 public:
  static Result<ClipVisionTower> load(SafeTensors& w, const ClipVisionConfig& c);

  // pixels: [count, channels, image_size, image_size], as CLIPImageProcessor produces them.
  Embeddings embed(const float* pixels, int count) const;

  const ClipVisionConfig& config() const { return c_; }

 private:
  ClipVisionConfig c_;
  Linear patch_embedding_;  // the stride-P convolution as a matrix over flattened patches
  Tensor class_embedding_, position_embedding_;
  LayerNorm pre_layrnorm_, post_layernorm_;
  std::vector<EncoderLayer> layers_;
  Linear visual_projection_;
};

}  // namespace cc
