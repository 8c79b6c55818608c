// CLAP's text tower (HF ClapTextModel + text_projection), readable against modeling_clap.py:
// word + token-type + position embeddings (positions count from padding_idx + 1), LayerNorm,
// post-LN encoder layers, tanh pooler on <s>, Linear·ReLU·Linear, L2.
// Matches `ClapModel.get_text_features`.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/embeddings.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/projection_head.h"

namespace cc {

struct ClapTextConfig {  // defaults: transformers' ClapTextConfig (RoBERTa-base)
  int vocab_size = 50265, hidden = 768, layers = 12, heads = 12, intermediate = 3072;
  int max_positions = 514, type_vocab_size = 1, pad_token_id = 1;
  float eps = 1e-12f;
  Activation act = Activation::kGelu;
  int projection_dim = 512;
  Activation projection_act = Activation::kRelu;

  // Longest token sequence the position table allows (512 for RoBERTa-base).
  int max_tokens() const { return max_positions - pad_token_id - 1; }
};

Result<ClapTextConfig> read_clap_text_config(const nlohmann::json& clap_config);

class ClapTextTower {
 public:
  static Result<ClapTextTower> load(SafeTensors& w, const ClapTextConfig& c);

  // Each sequence is a tokenizer output (<s> ... </s>); a batch pads to its longest.
  Result<Embeddings> embed(const std::vector<std::vector<int32_t>>& token_ids) const;

  const ClapTextConfig& config() const { return c_; }

 private:
  struct Layer {
    Linear query, key, value, attention_out, intermediate, output;
    LayerNorm attention_norm, output_norm;
  };

  ClapTextConfig c_;
  Tensor word_, position_, token_type_;
  LayerNorm embedding_norm_;
  std::vector<Layer> layers_;
  Linear pooler_;
  ProjectionHead projection_;
};

}  // namespace cc
