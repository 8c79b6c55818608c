#include "model/embedder.h"


#include "core/file.h"

namespace cc {

Result<std::unique_ptr<Embedder>> Embedder::load(const std::string& dir, const WeightOptions& options) {
  std::unique_ptr<Embedder> e(new Embedder());
  CC_TRY(e->info_, inspect_model(dir));
  e->options_ = options;
  if (e->info_.caps.image) {
    CC_TRY(e->clip_, ClipModel::load(dir, options));
  }
  if (e->info_.caps.audio) {
    CC_TRY(e->clap_, ClapModel::load(dir, options));
  }
  if (e->info_.kind == ModelKind::kClap && e->info_.caps.text) {
    CC_TRY(e->clap_text_, ClapTextModel::load(dir, options));
  }
  if (e->info_.kind == ModelKind::kClipClap) {
    auto w = AudioToClip::load(join_path(dir, "model.safetensors"), "audio_to_clip.");
    if (!w.ok()) return w.error().context("model " + dir);
    if (w->in() != e->clap_->dim() || w->out() != e->clip_->dim())
      return error("model " + dir + ": audio_to_clip maps " + std::to_string(w->in()) + " -> " + std::to_string(w->out()) +
                   " but the towers give " + std::to_string(e->clap_->dim()) + " (CLAP) and " + std::to_string(e->clip_->dim()) + " (CLIP)");
    e->audio_to_clip_ = std::make_unique<AudioToClip>(std::move(w).value());
  }
  return e;
}

Status Embedder::attach_projection(const std::string& projection_dir) {
  if (info_.kind != ModelKind::kClap)
    return error("a projection applies to a CLAP checkpoint's audio; model " + info_.dir + " is " + model_kind_name(info_.kind));
  CC_TRY(AudioToClip w, AudioToClip::load(join_path(projection_dir, "projection.safetensors"), ""));
  if (w.in() != clap_->dim())
    return error("projection " + projection_dir + " takes " + std::to_string(w.in()) + "-d vectors; model " + info_.dir +
                 " gives " + std::to_string(clap_->dim()));
  audio_to_clip_ = std::make_unique<AudioToClip>(std::move(w));
  info_.caps.text = false;  // CLAP text would stay in CLAP's space while audio moved to CLIP's
  info_.dim = audio_to_clip_->out();
  return Ok{};
}

int Embedder::dim() const { return info_.dim; }

Error Embedder::lacks(const char* modality) const {
  return error(std::string("model ") + info_.dir + " (" + model_kind_name(info_.kind) + ": " +
                   capabilities_string(info_.caps) + ") does not embed " + modality,
               ErrorKind::kUnsupported);
}

int Embedder::max_tokens() const {
  if (clip_) return clip_->text_tower().config().max_positions;
  if (clap_text_) return clap_text_->tower().config().max_tokens();
  return 0;
}

Result<std::vector<int32_t>> Embedder::tokenize(const std::string& text, bool truncate) const {
  if (!info_.caps.text) return lacks("text");
  // Without truncation, one token past the limit says the text is too long (and tokenizing stops there).
  const int limit = truncate ? max_tokens() : max_tokens() + 1;
  CC_TRY(std::vector<int32_t> ids, clip_ ? clip_->tokenize(text, limit) : clap_text_->tokenize(text, limit));
  if (static_cast<int>(ids.size()) > max_tokens())
    return error("text is over the model's limit of " + std::to_string(max_tokens()) + " tokens (\"truncate\": true cuts it)");
  return ids;
}

Result<Embeddings> Embedder::embed_token_ids(const std::vector<std::vector<int32_t>>& ids) const {
  if (!info_.caps.text) return lacks("text");
  return clip_ ? clip_->embed_token_ids(ids) : clap_text_->tower().embed(ids);
}

Result<std::vector<float>> Embedder::pixel_values(const uint8_t* data, size_t size, const ImageLimits& limits) const {
  if (!info_.caps.image) return lacks("images");
  return clip_->pixel_values(data, size, limits);
}

Result<std::vector<float>> Embedder::pixel_values(const Image& image) const {
  if (!info_.caps.image) return lacks("images");
  return clip_->pixel_values(image);
}

size_t Embedder::pixel_values_bytes() const {
  if (!clip_) return 0;
  const auto& c = clip_->vision_tower().config();
  return static_cast<size_t>(c.channels) * c.image_size * c.image_size * sizeof(float);
}

Result<Embeddings> Embedder::embed_pixel_values(const std::vector<float>& pixels, int count) const {
  if (!info_.caps.image) return lacks("images");
  return clip_->embed_pixel_values(pixels, count);
}

Status Embedder::check_audio_options(const LongAudioOptions& opts) const {
  if (!info_.caps.audio) return lacks("audio");
  return clap_->check(opts);
}

Result<ClipFeatures> Embedder::audio_features(const uint8_t* data, size_t size, const AudioLimits& limits,
                                              const LongAudioOptions& opts) const {
  if (!info_.caps.audio) return lacks("audio");
  return clap_->clip_features(data, size, limits, opts);
}

Result<ClipFeatures> Embedder::audio_features(const Audio& clip, const LongAudioOptions& opts) const {
  if (!info_.caps.audio) return lacks("audio");
  return clap_->clip_features(clip, opts);
}

Result<Embeddings> Embedder::into_space(Result<Embeddings> clap_vectors) const {
  if (!clap_vectors.ok() || !audio_to_clip_) return clap_vectors;
  return audio_to_clip_->apply(clap_vectors.value());
}

Result<Embeddings> Embedder::embed_audio_features(const std::vector<ClipFeatures>& clips) const {
  if (!info_.caps.audio) return lacks("audio");
  return into_space(clap_->embed_clip_features(clips));
}

Result<Embeddings> Embedder::embed_texts(const std::vector<std::string>& texts) const {
  if (!info_.caps.text) return lacks("text");
  return clip_ ? clip_->embed_texts(texts) : clap_text_->embed_texts(texts);
}

Result<Embeddings> Embedder::embed_images(const std::vector<Image>& images) const {
  if (!info_.caps.image) return lacks("images");
  return clip_->embed_images(images);
}

Result<Embeddings> Embedder::embed_audio(const std::vector<Audio>& clips, const LongAudioOptions& opts) const {
  CC_CHECK(check_audio_options(opts));
  return into_space(clap_->embed_audio(clips, opts));
}

std::vector<const GemmWeights*> Embedder::all_gemm_weights() const {
  std::vector<const GemmWeights*> all;
  for (const GemmWeights* w : {clip_ ? clip_->gemm_weights() : nullptr, clap_ ? clap_->gemm_weights() : nullptr,
                               clap_text_ ? clap_text_->gemm_weights() : nullptr})
    if (w) all.push_back(w);
  return all;
}

std::vector<TensorView> Embedder::gemm_weight_tensors() const {
  std::vector<TensorView> all;
  for (const GemmWeights* w : all_gemm_weights()) all.insert(all.end(), w->tensors().begin(), w->tensors().end());
  return all;
}

bool Embedder::gemm_weights_mapped() const {
  for (const GemmWeights* w : all_gemm_weights())
    if (w->mapped()) return true;
  return false;
}

std::set<std::string> Embedder::fp32_layers() const {
  std::set<std::string> kept;
  for (const GemmWeights* w : all_gemm_weights()) kept.insert(w->kept_fp32().begin(), w->kept_fp32().end());
  return kept;
}

int Embedder::reduced_layer_count() const {
  size_t n = 0;
  for (const GemmWeights* w : all_gemm_weights()) n += w->reduced_layers().size();
  return static_cast<int>(n);
}

std::string Embedder::fp32_layers_summary() const {
  const size_t kept = fp32_layers().size();
  if (kept == 0) return "";
  return std::to_string(kept) + " of " + std::to_string(kept + reduced_layer_count()) + " linear layers kept in fp32 for accuracy";
}

size_t Embedder::packed_weight_bytes() const {
  return (clip_ ? clip_->packed_weight_bytes() : 0) + (clap_ ? clap_->packed_weight_bytes() : 0) +
         (clap_text_ ? clap_text_->packed_weight_bytes() : 0);
}

}  // namespace cc
