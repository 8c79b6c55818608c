#include "text/clip_text_tower.h"

#include <algorithm>
#include <cstring>

#include "core/config.h"
#include "core/scratch.h"
#include "text/token_batch.h"

namespace cc {

Result<ClipTextConfig> read_clip_text_config(const nlohmann::json& clip_config) {
  CC_TRY(nlohmann::json t, config_section(clip_config, "text_config"));
  ClipTextConfig c;  // defaults: transformers' CLIPTextConfig
  CC_TRY(c.encoder.hidden, config_int(t, "hidden_size", 512));
  CC_TRY(c.encoder.intermediate, config_int(t, "intermediate_size", 2048));
  CC_TRY(c.encoder.heads, config_int(t, "num_attention_heads", 8));
  CC_TRY(c.encoder.eps, config_float(t, "layer_norm_eps", 1e-5f));
  CC_TRY(std::string act, config_string(t, "hidden_act", "quick_gelu"));
  CC_TRY(c.encoder.act, parse_activation(act));
  CC_TRY(c.layers, config_int(t, "num_hidden_layers", 12));
  CC_TRY(c.vocab_size, config_int(t, "vocab_size", 49408));
  CC_TRY(c.max_positions, config_int(t, "max_position_embeddings", 77));
  CC_TRY(c.eos_token_id, config_int(t, "eos_token_id", 49407));
  CC_TRY(c.projection_dim, config_int(clip_config, "projection_dim", 512));
  if (c.encoder.hidden <= 0 || c.encoder.heads <= 0 || c.encoder.hidden % c.encoder.heads != 0 ||
      c.encoder.intermediate <= 0 || c.layers < 0 || c.vocab_size <= 0 || c.max_positions <= 1 ||
      c.projection_dim <= 0)
    return error("text_config: inconsistent sizes (hidden_size must be a positive multiple of num_attention_heads)");
  return c;
}

Result<ClipTextTower> ClipTextTower::load(SafeTensors& w, const ClipTextConfig& c) {
  ClipTextTower t;
  t.c_ = c;
  const int d = c.encoder.hidden;
  CC_TRY(t.token_embedding_, w.get("text_model.embeddings.token_embedding.weight", {c.vocab_size, d}));
  CC_TRY(t.position_embedding_, w.get("text_model.embeddings.position_embedding.weight", {c.max_positions, d}));
  for (int i = 0; i < c.layers; ++i) {
    CC_TRY(EncoderLayer layer, load_encoder_layer(w, "text_model.encoder.layers." + std::to_string(i), c.encoder));
    t.layers_.push_back(layer);
  }
  CC_TRY(t.final_layer_norm_, load_layer_norm(w, "text_model.final_layer_norm", d, c.encoder.eps));
  CC_TRY(t.text_projection_, load_fp32_linear(w, "text_projection", d, c.projection_dim, false));
  return t;
}

Result<Embeddings> ClipTextTower::embed(const std::vector<std::vector<int32_t>>& batch) const {
  const int n = static_cast<int>(batch.size());
  const int d = c_.encoder.hidden;
  Embeddings out;
  out.count = n;
  out.dim = c_.projection_dim;
  if (n == 0) return out;

  CC_TRY(TokenBatch tokens, check_token_batch(batch, c_.vocab_size, c_.max_positions));
  const int seq = tokens.longest;
  std::vector<int>& lengths = tokens.lengths;

  // Embeddings: token + position, padded rows left zero (they are masked out).
  Scratch x(static_cast<size_t>(n) * seq * d, 0.0f);
  for (int b = 0; b < n; ++b) {
    for (int t = 0; t < lengths[b]; ++t) {
      float* row = x.data() + (static_cast<size_t>(b) * seq + t) * d;
      const float* tok = token_embedding_.data + static_cast<size_t>(batch[b][t]) * d;
      const float* pos = position_embedding_.data + static_cast<size_t>(t) * d;
      for (int i = 0; i < d; ++i) row[i] = tok[i] + pos[i];
    }
  }

  AttentionMask mask;
  mask.causal = true;
  mask.key_lengths = lengths.data();
  for (const auto& layer : layers_) encoder_layer(layer, c_.encoder, x.data(), n, seq, mask);

  // Pooling, as CLIPTextTransformer.forward: the legacy config (eos_token_id == 2) takes the
  // position of the largest id (the eos); otherwise the first position equal to eos_token_id.
  std::vector<float> pooled(static_cast<size_t>(n) * d);
  for (int b = 0; b < n; ++b) {
    const auto& ids = batch[b];
    int pos = 0;
    if (c_.eos_token_id == 2) {
      pos = static_cast<int>(std::max_element(ids.begin(), ids.end()) - ids.begin());
    } else {
      auto it = std::find(ids.begin(), ids.end(), c_.eos_token_id);
      pos = it == ids.end() ? 0 : static_cast<int>(it - ids.begin());  // argmax of all-false is 0
    }
    std::memcpy(pooled.data() + static_cast<size_t>(b) * d, x.data() + (static_cast<size_t>(b) * seq + pos) * d,
                d * sizeof(float));
  }
  layer_norm(final_layer_norm_, pooled.data(), n, pooled.data());  // per row, so pooled rows suffice

  out.values.resize(static_cast<size_t>(n) * out.dim);
  linear(text_projection_, pooled.data(), n, out.values.data());
  l2_normalize_rows(out.values.data(), n, out.dim);
  return out;
}

}  // namespace cc
