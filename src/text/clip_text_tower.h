// CLIP's text tower (HF CLIPTextModel + text_projection): token and position embeddings,
// causal pre-LN encoder, final LayerNorm, EOS pooling as HF pools for the checkpoint's
// config, projection, L2 normalisation. Matches `CLIPModel.get_text_features`, normalised.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/embeddings.h"
#include "core/encoder_layer.h"

namespace cc {

struct ClipTextConfig {
  EncoderConfig encoder;
  int layers = 12;
  int vocab_size = 49408;
  int max_positions = 77;
  int eos_token_id = 49407;
  int projection_dim = 512;
};

// From a CLIPModel config.json (its "text_config" section and "projection_dim").
Result<ClipTextConfig> read_clip_text_config(const nlohmann::json& clip_config);

class ClipTextTower {
 public:
  static Result<ClipTextTower> load(SafeTensors& w, const ClipTextConfig& c);

  // Each sequence is a tokenizer output (bos ... eos). Sequences are padded to the longest in
  // the batch, not to max_positions; the causal mask makes the padding invisible to pooling.
  Result<Embeddings> embed(const std::vector<std::vector<int32_t>>& token_ids) const;

  const ClipTextConfig& config() const { return c_; }

 private:
  ClipTextConfig c_;
  Tensor token_embedding_, position_embedding_;
  std::vector<EncoderLayer> layers_;
  LayerNorm final_layer_norm_;
  Linear text_projection_;
};

}  // namespace cc
