#include "model/clap_model.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "audio/resample.h"
#include "core/config.h"
#include "core/file.h"
#include "core/packed_weights.h"
#include "core/kernels.h"
#include "model/calibration.h"
#include "model/model_kind.h"

namespace cc {

Result<std::unique_ptr<ClapModel>> ClapModel::load(const std::string& dir, const WeightOptions& options) {
  auto in_dir = [&](const Error& e) { return e.context("model " + dir); };
  if (!is_directory(dir)) return error("model " + dir + ": not a directory");
  std::unique_ptr<ClapModel> m(new ClapModel());
  m->dir_ = dir;
  CC_TRY(nlohmann::json config, read_model_config(dir));
  const bool bundle = config.value("model_type", "") == "clipclap";
  nlohmann::json pre_json;
  if (bundle) {  // the bundle's audio_config holds CLAP's audio_config and its feature extractor
    CC_TRY(nlohmann::json audio, config_section(config, "audio_config"));
    CC_TRY(pre_json, config_section(audio, "feature_extractor"));
    config = {{"projection_dim", audio.value("projection_dim", 512)}, {"audio_config", audio}};
  } else {
    auto pre_file = read_json(join_path(dir, "preprocessor_config.json"));
    if (!pre_file.ok()) return in_dir(pre_file.error());
    pre_json = std::move(pre_file).value();
  }
  const std::string config_name = bundle ? kBundleConfig : "config.json";
  auto tower_config = read_htsat_config(config);
  if (!tower_config.ok()) return in_dir(tower_config.error().context(config_name));
  auto pre = read_clap_feature_config(pre_json);
  if (!pre.ok()) return in_dir(pre.error().context(bundle ? "clip_config.json audio_config.feature_extractor" : "preprocessor_config.json"));
  if (pre->feature_size != tower_config->num_mel_bins)
    return error("model " + dir + ": the feature extractor makes " + std::to_string(pre->feature_size) +
                 " mel bins but the tower takes " + std::to_string(tower_config->num_mel_bins));
  if (pre->frames() > tower_config->spec_size * tower_config->freq_ratio())
    return error("model " + dir + ": " + std::to_string(pre->frames()) + " frames exceed the tower's input");
  if ((pre->truncation == "fusion") != tower_config->fusion)
    return error("model " + dir + ": preprocessor truncation '" + pre->truncation + "' does not match enable_fusion=" +
                 (tower_config->fusion ? "true" : "false"));
  m->features_ = std::make_unique<ClapFeatureExtractor>(pre.value());

  const std::vector<std::string> prefixes = {"audio_model.", "audio_projection."};
  auto weights = SafeTensors::open(join_path(dir, "model.safetensors"), prefixes);
  if (!weights.ok()) return in_dir(weights.error());
  m->weights_ = std::move(weights).value();
  if (auto st = attach_packed_weights(m->weights_, prefixes, options); !st.ok()) return in_dir(st.error());
  if (needs_calibration(m->weights_))
    if (auto st = m->calibrate(tower_config.value()); !st.ok()) return in_dir(st.error());
  auto tower = HtsatTower::load(m->weights_, tower_config.value());
  if (!tower.ok()) return in_dir(tower.error());
  m->tower_ = std::move(tower).value();
  release_checkpoint_pages(m->weights_);
  return m;
}

// Calibration (model/calibration.h) on the clips' windows, one at a time (a batch's clips would
// run on several threads, and only the calling thread records).
Status ClapModel::calibrate(const HtsatConfig& config) {
  const size_t per_frame = static_cast<size_t>(config.num_mel_bins) * config.channels();
  std::vector<std::vector<float>> windows;
  for (const Audio& clip : calibration_clips(features_->config().sampling_rate)) {
    CC_TRY(ClipFeatures f, clip_features(clip, {}));
    const size_t per_window = f.windows > 0 ? f.mel.size() / f.windows : 0;
    for (int w = 0; w < f.windows; ++w)
      windows.emplace_back(f.mel.begin() + w * per_window, f.mel.begin() + (w + 1) * per_window);
  }
  CalibrationInputs inputs;
  inputs.count = static_cast<int64_t>(windows.size());
  inputs.embed = [&](const std::vector<int64_t>& items) -> Result<Embeddings> {
    CC_TRY(HtsatTower tower, HtsatTower::load(weights_, config));
    return embed_runs(items, [](int64_t i) { return i; }, [&](const std::vector<int64_t>& run) {
      const std::vector<float>& mel = windows[run.front()];
      return tower.embed(mel.data(), 1, static_cast<int>(mel.size() / per_frame));
    });
  };
  return cc::calibrate(weights_, inputs);
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

template <class Next>
Result<ClipFeatures> ClapModel::stream_features(int rate, std::optional<size_t> input_samples, Next next, MemoryBudget* budget,
                                                const LongAudioOptions& opts) const {
  const int model_rate = features_->config().sampling_rate;
  std::optional<size_t> total;
  if (input_samples) total = resampled_length(*input_samples, rate, model_rate);
  CC_TRY(auto resampler, Resampler::create(rate, model_rate));
  ClipWindows windows(*features_, opts, total, budget);
  std::vector<double> block(8192), out;
  for (;;) {
    CC_TRY(size_t n, next(block.data(), block.size()));
    out.clear();
    if (n == 0) {
      CC_CHECK(resampler->finish(out));
      CC_CHECK(windows.push(out.data(), out.size()));
      return windows.finish();
    }
    CC_CHECK(resampler->push(block.data(), n, out));
    CC_CHECK(windows.push(out.data(), out.size()));
  }
}

Result<ClipFeatures> ClapModel::clip_features(const uint8_t* data, size_t size, const AudioLimits& limits,
                                              const LongAudioOptions& opts) const {
  CC_CHECK(check(opts));
  std::optional<size_t> samples;
  if (opts.mode == LongAudio::kCenter) {  // where the middle is needs the length: a first pass counts it
    CC_TRY(auto counter, AudioReader::open(data, size, limits));
    std::vector<double> block(8192);
    size_t n = 0;
    for (;;) {
      CC_TRY(size_t got, counter->read(block.data(), block.size()));
      if (got == 0) break;
      n += got;
    }
    samples = n;
  }
  CC_TRY(auto reader, AudioReader::open(data, size, limits));
  return stream_features(reader->sample_rate(), samples, [&](double* out, size_t max) { return reader->read(out, max); },
                         limits.budget, opts);
}

Result<ClipFeatures> ClapModel::clip_features(const Audio& clip, const LongAudioOptions& opts) const {
  CC_CHECK(check(opts));
  if (clip.samples.empty()) return error("audio has no samples");
  size_t at = 0;
  auto next = [&](double* out, size_t max) -> Result<size_t> {
    const size_t n = std::min(max, clip.samples.size() - at);
    std::copy_n(clip.samples.data() + at, n, out);
    at += n;
    return n;
  };
  return stream_features(clip.sample_rate, clip.samples.size(), next, nullptr, opts);
}

Result<Embeddings> ClapModel::embed_clip_features(const std::vector<ClipFeatures>& clips) const {
  // Every window of every clip goes through the tower as one batch; a clip's vector is the
  // renormalised mean of its windows' (a single window is already unit length).
  std::vector<float> mel;
  std::vector<int> owner;
  for (size_t i = 0; i < clips.size(); ++i) {
    mel.insert(mel.end(), clips[i].mel.begin(), clips[i].mel.end());
    owner.insert(owner.end(), clips[i].windows, static_cast<int>(i));
  }
  Embeddings out;
  out.count = static_cast<int64_t>(clips.size());
  out.dim = dim();
  if (clips.empty()) return out;
  CC_TRY(Embeddings windows, embed_features(mel, static_cast<int>(owner.size())));
  out.values.assign(static_cast<size_t>(out.count) * out.dim, 0.0f);
  for (size_t w = 0; w < owner.size(); ++w)
    for (int d = 0; d < out.dim; ++d) out.values[static_cast<size_t>(owner[w]) * out.dim + d] += windows.row(w)[d];
  l2_normalize_rows(out.values.data(), out.count, out.dim);
  return out;
}

Result<Embeddings> ClapModel::embed_audio(const std::vector<Audio>& clips, const LongAudioOptions& opts) const {
  CC_CHECK(check(opts));
  std::vector<ClipFeatures> features;
  for (size_t i = 0; i < clips.size(); ++i) {
    auto f = clip_features(clips[i], opts);
    if (!f.ok()) return f.error().context("audio " + std::to_string(i));
    features.push_back(std::move(f).value());
  }
  return embed_clip_features(features);
}

}  // namespace cc
