// One loaded model of any kind, as `embed` and `serve` use it: text, images and audio go to
// whichever towers the directory holds (see model_kind.h), and come back in its space.
//   clipclap: text -> CLIP text; image -> CLIP vision; audio -> CLAP audio -> W -> normalise
//   clip:     text, image (CLIP's space)
//   clap:     audio, and text through CLAP's own text tower (CLAP's space)
// Each modality has a prepare step (tokenize, pixels, log-mel: any thread, no tower) and a
// batched tower step, so a server can prepare requests while the towers run.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "audio/decode_audio.h"
#include "model/audio_to_clip.h"
#include "model/clap_model.h"
#include "model/clap_text_model.h"
#include "model/clip_model.h"
#include "model/model_kind.h"
#include "vision/image.h"

namespace cc {

class Embedder {
 public:
  static Result<std::unique_ptr<Embedder>> load(const std::string& dir, const WeightOptions& options = {});
  // A CLAP checkpoint with a separately trained projection (train-projection --out DIR): its audio
  // vectors go into CLIP's space. Text keeps going to CLAP's text tower.
  Status attach_projection(const std::string& projection_dir);

  const ModelInfo& info() const { return info_; }
  int dim() const;

  // Text. Token ids are cut to the model's limit (eos kept) unless `truncate` is false, when
  // a longer text is an error that gives its length.
  Result<std::vector<int32_t>> tokenize(const std::string& text, bool truncate = true) const;
  int max_tokens() const;
  Result<Embeddings> embed_token_ids(const std::vector<std::vector<int32_t>>& ids) const;

  // Images: pixel_values of one encoded image (decoded row by row, CLIP preprocessing), then
  // the tower over several.
  Result<std::vector<float>> pixel_values(const uint8_t* data, size_t size, const ImageLimits& limits) const;
  Result<std::vector<float>> pixel_values(const Image& image) const;  // already decoded
  size_t pixel_values_bytes() const;  // of one image's pixel_values (0 without images)
  Result<Embeddings> embed_pixel_values(const std::vector<float>& pixels, int count) const;

  // Audio: one encoded clip's features (decoded as a stream), then the tower (and W for a
  // bundle) over several clips.
  Status check_audio_options(const LongAudioOptions& opts) const;
  Result<ClipFeatures> audio_features(const uint8_t* data, size_t size, const AudioLimits& limits,
                                      const LongAudioOptions& opts) const;
  Result<ClipFeatures> audio_features(const Audio& clip, const LongAudioOptions& opts) const;  // already decoded
  Result<Embeddings> embed_audio_features(const std::vector<ClipFeatures>& clips) const;

  // Convenience for whole batches (embed, tests).
  Result<Embeddings> embed_texts(const std::vector<std::string>& texts) const;
  Result<Embeddings> embed_images(const std::vector<Image>& images) const;
  Result<Embeddings> embed_audio(const std::vector<Audio>& clips, const LongAudioOptions& opts) const;

  const ClipModel* clip() const { return clip_.get(); }
  const ClapModel* clap() const { return clap_.get(); }
  // Bytes of packed weights (`clipclap pack`) mapped for its towers; 0 when it has none.
  size_t packed_weight_bytes() const;
  // The precision its towers run in (WeightOptions), and their bf16 or int8 weights, for
  // `clipclap pack --precision` to write (empty at fp32).
  Precision precision() const { return options_.precision; }
  std::vector<TensorView> gemm_weight_tensors() const;
  // Whether those came from a pack file rather than being made at load.
  bool gemm_weights_mapped() const;
  // The layers its accuracy guard kept in fp32 (model/calibration.h), and how many run in
  // precision() (at fp32: none of either).
  std::set<std::string> fp32_layers() const;
  int reduced_layer_count() const;
  // "13 of 24 linear layers kept in fp32 for accuracy", or "" when the guard kept none.
  std::string fp32_layers_summary() const;

 private:
  Embedder() = default;
  std::vector<const GemmWeights*> all_gemm_weights() const;  // of each of its towers' checkpoints
  Error lacks(const char* modality) const;
  // CLAP's vectors as this model returns them: through W into CLIP's space when it has one.
  Result<Embeddings> into_space(Result<Embeddings> clap_vectors) const;
  ModelInfo info_;
  WeightOptions options_;
  std::unique_ptr<ClipModel> clip_;
  std::unique_ptr<ClapModel> clap_;
  std::unique_ptr<ClapTextModel> clap_text_;
  std::unique_ptr<AudioToClip> audio_to_clip_;
};

}  // namespace cc
