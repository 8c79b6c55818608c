// CLAP's text side (RoBERTa tokenizer + text tower) from a CLAP checkpoint directory, for
// training the projection and for serving a plain CLAP checkpoint's text. Only text_model.* and text_projection.*
// are mapped.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/packed_weights.h"
#include "core/safetensors.h"
#include "text/clap_text_tower.h"
#include "text/roberta_tokenizer.h"

namespace cc {

class ClapTextModel {
 public:
  static Result<std::unique_ptr<ClapTextModel>> load(const std::string& dir, const WeightOptions& options = {});

  Result<std::vector<int32_t>> tokenize(const std::string& text, int max_length = 0) const;  // 0: the tower's limit
  Result<Embeddings> embed_texts(const std::vector<std::string>& texts) const;
  const ClapTextTower& tower() const { return tower_; }
  size_t packed_weight_bytes() const { return weights_.gemm_weights() ? weights_.gemm_weights()->bytes() : 0; }
  const GemmWeights* gemm_weights() const { return weights_.gemm_weights(); }

 private:
  ClapTextModel() = default;
  Status calibrate(const ClapTextConfig& config);
  SafeTensors weights_;
  RobertaTokenizer tokenizer_;
  ClapTextTower tower_;
};

}  // namespace cc
