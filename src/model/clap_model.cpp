#include "model/clap_model.h"

#include <cmath>

#include "audio/resample.h"
#include "core/file.h"
#include "core/kernels.h"

namespace cc {

Result<std::unique_ptr<ClapModel>> ClapModel::load(const std::string& dir) {
  auto in_dir = [&](const Error& e) { return e.context("model " + dir); };
  if (!is_directory(dir)) return error("model " + dir + ": not a directory");
  std::unique_ptr<ClapModel> m(new ClapModel());
  m->dir_ = dir;
  auto config = read_json(join_path(dir, "config.json"));
  if (!config.ok()) return in_dir(config.error());
  auto tower_config = read_htsat_config(config.value());
  if (!tower_config.ok()) return in_dir(tower_config.error().context("config.json"));
  auto pre_json = read_json(join_path(dir, "preprocessor_config.json"));
  if (!pre_json.ok()) return in_dir(pre_json.error());
  auto pre = read_clap_feature_config(pre_json.value());
  if (!pre.ok()) return in_dir(pre.error().context("preprocessor_config.json"));
  if (pre->feature_size != tower_config->num_mel_bins)
    return error("model " + dir + ": the feature extractor makes " + std::to_string(pre->feature_size) +
                 " mel bins but the tower takes " + std::to_string(tower_config->num_mel_bins));
  if (pre->frames() > tower_config->spec_size * tower_config->freq_ratio())
    return error("model " + dir + ": " + std::to_string(pre->frames()) + " frames exceed the tower's input");
  if ((pre->truncation == "fusion") != tower_config->fusion)
    return error("model " + dir + ": preprocessor truncation '" + pre->truncation + "' does not match enable_fusion=" +
                 (tower_config->fusion ? "true" : "false"));
  m->features_ = std::make_unique<ClapFeatureExtractor>(pre.value());

  auto weights = SafeTensors::open(join_path(dir, "model.safetensors"), {"audio_model.", "audio_projection."});
  if (!weights.ok()) return in_dir(weights.error());
  m->weights_ = std::move(weights).value();
  auto tower = HtsatTower::load(m->weights_, tower_config.value());
  if (!tower.ok()) return in_dir(tower.error());
  m->tower_ = std::move(tower).value();
  return m;
}

Result<std::vector<double>> ClapModel::at_model_rate(const Audio& clip) const {
  return resample(clip.samples, clip.sample_rate, features_->config().sampling_rate);
}

Result<Embeddings> ClapModel::embed_features(const std::vector<float>& mel, int count) const {
  const size_t per_frame = static_cast<size_t>(features_->config().feature_size) * tower_.config().channels();
  if (count <= 0 || mel.size() % (static_cast<size_t>(count) * per_frame) != 0)
    return error("audio features do not split into " + std::to_string(count) + " clips");
  return tower_.embed(mel.data(), count, static_cast<int>(mel.size() / count / per_frame));
}

Status ClapModel::check(const LongAudioOptions& opts) const {
  if (opts.mode == LongAudio::kFusion && !features_->fused())
    return error("long-audio mode 'fusion' needs a fused checkpoint (enable_fusion=true); model " + dir_ + " is not");
  if (!(opts.hop_seconds > 0)) return error("the window hop must be positive");
  return Ok{};
}

Result<Embeddings> ClapModel::embed_audio(const std::vector<Audio>& clips, const LongAudioOptions& opts) const {
  CC_CHECK(check(opts));
  // Every window of every clip goes through the tower as one batch.
  std::vector<float> mel;
  std::vector<int> owner;
  for (size_t i = 0; i < clips.size(); ++i) {
    auto wave = at_model_rate(clips[i]);
    if (!wave.ok()) return wave.error().context("audio " + std::to_string(i));
    int windows = 0;
    const auto m = features_->clip_features(wave.value(), opts, &windows);
    mel.insert(mel.end(), m.begin(), m.end());
    owner.insert(owner.end(), windows, static_cast<int>(i));
  }
  Embeddings out;
  out.count = static_cast<int64_t>(clips.size());
  out.dim = dim();
  if (clips.empty()) return out;
  CC_TRY(Embeddings windows, embed_features(mel, static_cast<int>(owner.size())));
  out.values.assign(static_cast<size_t>(out.count) * out.dim, 0.0f);
  for (size_t w = 0; w < owner.size(); ++w)
    for (int d = 0; d < out.dim; ++d) out.values[static_cast<size_t>(owner[w]) * out.dim + d] += windows.row(w)[d];
  l2_normalize_rows(out.values.data(), out.count, out.dim);  // a single window is already unit length
  return out;
}

}  // namespace cc
