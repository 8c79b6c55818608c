// CLAP's audio tower, HTSAT (HF ClapAudioModel + audio_projection), readable against
// modeling_clap.py: BatchNorm over mel bins -> bicubic 1001 -> 1024 frames -> the mel-to-image
// reshape -> 4x4 patch embedding -> Swin stages (window attention with relative position bias,
// shifted windows with their -100 masks, patch merging) -> LayerNorm -> mean over tokens ->
// Linear, ReLU, Linear -> L2. Matches `ClapModel.get_audio_features`.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "core/attention.h"
#include "core/embeddings.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/projection_head.h"
#include "core/scratch.h"

namespace cc {

struct HtsatConfig {  // defaults: transformers' ClapAudioConfig
  int num_mel_bins = 64, spec_size = 256, patch_size = 4, patch_stride = 4, window_size = 8;
  int embed_dim = 96;  // patch_embeds_hidden_size
  std::vector<int> depths{2, 2, 6, 2}, heads{4, 8, 16, 32};
  double mlp_ratio = 4.0;
  bool qkv_bias = true, patch_norm = true;
  Activation act = Activation::kGelu;
  float eps = 1e-5f;
  int hidden_size = 768, projection_dim = 512;
  Activation projection_act = Activation::kRelu;
  bool fusion = false;  // enable_fusion with fusion_type "aff_2d": 4 input channels
  int aff_block_r = 4;

  int channels() const { return fusion ? 4 : 1; }
  int freq_ratio() const { return spec_size / num_mel_bins; }
  int grid() const { return spec_size / patch_stride; }
  int num_features() const { return embed_dim << (depths.size() - 1); }
};

// From a ClapModel config.json (its "audio_config" section).
Result<HtsatConfig> read_htsat_config(const nlohmann::json& clap_config);

class HtsatTower {
 public:
  static Result<HtsatTower> load(SafeTensors& w, const HtsatConfig& c);

  // features: [count, channels(), frames, num_mel_bins] log-mel spectrograms (frames <=
  // spec_size * freq_ratio). Fused checkpoints take every clip as is_longer (see README).
  Result<Embeddings> embed(const float* features, int count, int frames) const;

  const HtsatConfig& config() const { return c_; }
  // CLAP's audio_projection, for exporting it.
  const ProjectionHead& projection() const { return projection_; }

 private:
  struct Block {
    LayerNorm layernorm_before, layernorm_after;
    Linear query, key, value, output, intermediate, fc_out;
    std::vector<float> position_bias;  // [heads, S, S], gathered from the table once
    int heads = 0, shift = 0;
  };
  // Floats per clip after the first `stages` stages (with their patch merging).
  size_t stage_output_floats(size_t stages) const;
  struct Stage {
    int dim = 0, height = 0, width = 0, window = 0;
    std::vector<Block> blocks;
    std::vector<float> shift_mask;  // [windows, S, S]: 0 or -100
    bool merge = false;
    LayerNorm merge_norm;
    Linear merge_reduction;
  };

  // The AFF block's weights (ClapAudioAFFBlock): 1x1 convolutions with BatchNorm.
  struct Fusion {
    Linear mel_conv;  // the (P, 3P) convolution over channels 1..3, as a matrix
    Linear local1, local2, global1, global2;
    BatchNorm local_bn1, local_bn2, global_bn1, global_bn2;
  };

  // The stride-P patch embedding (with the fusion block and patch norm): [count * tokens, embed_dim].
  Scratch embed_patches(const float* features, int count, int frames) const;
  // Stages [from, to) on x ([count * tokens, dim]), patch merging included.
  void run_stages(Scratch& x, int count, size_t from, size_t to) const;
  // Final norm, mean over tokens, projection head, L2.
  Embeddings pool_and_project(Scratch& x, int count) const;
  void mel_to_image(const float* features, int images, int frames, float* image) const;
  void fuse(const float* image, int count, float* global) const;
  void block_forward(const Block& b, const Stage& s, Scratch& x, int count) const;

  HtsatConfig c_;
  BatchNorm input_bn_;  // over mel bins
  Fusion fusion_;
  Linear patch_embed_;
  LayerNorm patch_norm_;
  std::vector<Stage> stages_;
  LayerNorm final_norm_;
  ProjectionHead projection_;
};

}  // namespace cc
