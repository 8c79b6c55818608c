// A Hugging Face CLAP checkpoint directory (config.json, model.safetensors,
// preprocessor_config.json), or the audio side of a clipclap bundle (its clip_config.json's
// audio_config, which carries the feature-extractor settings), loaded for embedding audio.
// Only the audio tower and audio_projection are mapped: the text tower's bytes are never touched.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "audio/clap_features.h"
#include "audio/decode_audio.h"
#include "audio/htsat_tower.h"
#include "core/embeddings.h"
#include "core/safetensors.h"

namespace cc {

class ClapModel {
 public:
  static Result<std::unique_ptr<ClapModel>> load(const std::string& dir);

  // Decoded clips at any sample rate -> one vector each. A clip longer than max_length_s
  // becomes several windows (LongAudio::kWindows) whose vectors are averaged and renormalised.
  Result<Embeddings> embed_audio(const std::vector<Audio>& clips, const LongAudioOptions& opts) const;

  // The same in two steps, so decoding and features can run apart from the tower (the server):
  // one clip's log-mel windows, then the tower over several clips' windows.
  struct ClipFeatures {
    std::vector<float> mel;
    int windows = 0;
  };
  Result<ClipFeatures> clip_features(const Audio& clip, const LongAudioOptions& opts) const;
  Result<Embeddings> embed_clip_features(const std::vector<ClipFeatures>& clips) const;

  // Whether these options suit this checkpoint (fusion needs a fused one).
  Status check(const LongAudioOptions& opts) const;

  // The pieces, for tests and the bench: waveform at the model's rate, and features -> vectors.
  Result<std::vector<double>> at_model_rate(const Audio& clip) const;
  Result<Embeddings> embed_features(const std::vector<float>& mel, int count) const;

  const ClapFeatureExtractor& features() const { return *features_; }
  const HtsatTower& tower() const { return tower_; }
  int dim() const { return tower_.config().projection_dim; }
  const std::string& dir() const { return dir_; }
  size_t mapped_weight_bytes() const { return weights_.mapped_bytes(); }
  size_t packed_weight_bytes() const { return weights_.packed_bytes(); }

 private:
  ClapModel() = default;
  std::string dir_;
  SafeTensors weights_;
  std::unique_ptr<ClapFeatureExtractor> features_;
  HtsatTower tower_;
};

}  // namespace cc
