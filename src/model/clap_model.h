// A Hugging Face CLAP checkpoint directory (config.json, model.safetensors,
// preprocessor_config.json), or the audio side of a clipclap bundle (its clip_config.json's
// audio_config, which carries the feature-extractor settings), loaded for embedding audio.
// Only the audio tower and audio_projection are mapped: the text tower's bytes are never touched.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audio/clap_features.h"
#include "audio/clap_windows.h"
#include "audio/decode_audio.h"
#include "audio/htsat_tower.h"
#include "core/embeddings.h"
#include "core/packed_weights.h"
#include "core/safetensors.h"

namespace cc {

class ClapModel {
 public:
  static Result<std::unique_ptr<ClapModel>> load(const std::string& dir, const WeightOptions& options = {});

  // Decoded clips at any sample rate -> one vector each. A clip longer than max_length_s
  // becomes several windows (LongAudio::kWindows) whose vectors are averaged and renormalised.
  Result<Embeddings> embed_audio(const std::vector<Audio>& clips, const LongAudioOptions& opts) const;

  // The same in two steps, so decoding and features can run apart from the tower (the server):
  // one clip's log-mel windows, then the tower over several clips' windows. From encoded bytes
  // the clip is decoded, resampled and cut into windows block by block: it costs the windows
  // it keeps, not its length.
  Result<ClipFeatures> clip_features(const uint8_t* data, size_t size, const AudioLimits& limits,
                                     const LongAudioOptions& opts) const;
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
  size_t packed_weight_bytes() const { return weights_.gemm_weights() ? weights_.gemm_weights()->bytes() : 0; }
  const GemmWeights* gemm_weights() const { return weights_.gemm_weights(); }

 private:
  ClapModel() = default;
  Status calibrate(const HtsatConfig& config);
  // Samples at the clip's rate, `next(buffer, max)` giving up to max at a time (0: the end),
  // through the resampler into the windows. `input_samples`: the clip's length, if known.
  template <class Next>
  Result<ClipFeatures> stream_features(int rate, std::optional<size_t> input_samples, Next next, MemoryBudget* budget,
                                       const LongAudioOptions& opts) const;
  std::string dir_;
  SafeTensors weights_;
  std::unique_ptr<ClapFeatureExtractor> features_;
  HtsatTower tower_;
};

}  // namespace cc
