// A Hugging Face CLIP checkpoint directory (config.json, model.safetensors, tokenizer.json,
// preprocessor_config.json) loaded for embedding text and images into its shared space.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/embeddings.h"
#include "core/packed_weights.h"
#include "core/safetensors.h"
#include "text/clip_text_tower.h"
#include "text/clip_tokenizer.h"
#include "vision/clip_image_preprocess.h"
#include "vision/clip_vision_tower.h"

namespace cc {

class ClipModel {
 public:
  // Errors name the directory and the file or tensor at fault.
  static Result<std::unique_ptr<ClipModel>> load(const std::string& dir, const WeightOptions& options = {});

  // Token ids as the tower takes them: truncated to the model's positions, eos kept last.
  Result<std::vector<int32_t>> tokenize(const std::string& text, int max_length = 0) const;  // 0: the tower's limit

  // One forward pass per call: the inputs form one batch.
  Result<Embeddings> embed_token_ids(const std::vector<std::vector<int32_t>>& ids) const;
  Result<Embeddings> embed_texts(const std::vector<std::string>& texts) const;
  // pixel_values of one image: in memory, or decoded from its encoded bytes row by row.
  Result<std::vector<float>> pixel_values(const Image& image) const;
  Result<std::vector<float>> pixel_values(const uint8_t* data, size_t size, const ImageLimits& limits) const;
  Result<Embeddings> embed_pixel_values(const std::vector<float>& pixels, int count) const;
  Result<Embeddings> embed_images(const std::vector<Image>& images) const;

  int dim() const { return text_.config().projection_dim; }
  const std::string& dir() const { return dir_; }
  const ClipTextTower& text_tower() const { return text_; }
  const ClipVisionTower& vision_tower() const { return vision_; }
  size_t weight_file_bytes() const { return weight_file_bytes_; }
  size_t copied_weight_bytes() const { return weights_.copied_bytes(); }
  size_t packed_weight_bytes() const { return weights_.gemm_weights() ? weights_.gemm_weights()->bytes() : 0; }
  const GemmWeights* gemm_weights() const { return weights_.gemm_weights(); }

 private:
  Status calibrate(const ClipTextConfig& text_config, const ClipVisionConfig& vision_config);
  ClipModel() = default;
  std::string dir_;
  SafeTensors weights_;
  size_t weight_file_bytes_ = 0;
  ClipTokenizer tokenizer_;
  ClipImagePreprocessConfig preprocess_;
  ClipTextTower text_;
  ClipVisionTower vision_;
};

}  // namespace cc
