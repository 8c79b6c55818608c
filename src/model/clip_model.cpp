#include "model/clip_model.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>

#include "core/file.h"
#include "core/packed_weights.h"
#include "model/calibration.h"
#include "model/model_kind.h"

namespace cc {

// Only CLIP's tensors are mapped (a bundle also holds CLAP's audio tower).
static const std::vector<std::string> kClipPrefixes = {"text_model.", "vision_model.", "text_projection.", "visual_projection."};

Result<std::unique_ptr<ClipModel>> ClipModel::load(const std::string& dir, const WeightOptions& options) {
  auto in_dir = [&](const Error& e) { return e.context("model " + dir); };
  if (!is_directory(dir)) return error("model " + dir + ": not a directory");

  std::unique_ptr<ClipModel> m(new ClipModel());
  m->dir_ = dir;
  auto config = read_model_config(dir);  // a bundle's clip_config.json has the same text/vision sections
  if (!config.ok()) return config.error();

  auto weights = SafeTensors::open(join_path(dir, "model.safetensors"), kClipPrefixes);
  if (!weights.ok()) {
    if (is_file(join_path(dir, "pytorch_model.bin")))
      return error("model " + dir + ": has only pytorch_model.bin; convert it to model.safetensors first");
    return in_dir(weights.error());
  }
  m->weights_ = std::move(weights).value();
  if (auto st = attach_packed_weights(m->weights_, kClipPrefixes, options); !st.ok()) return in_dir(st.error());
  struct stat st {};
  if (stat(m->weights_.path().c_str(), &st) == 0) m->weight_file_bytes_ = static_cast<size_t>(st.st_size);

  auto tokenizer = ClipTokenizer::load(join_path(dir, "tokenizer.json"));
  if (!tokenizer.ok()) return in_dir(tokenizer.error());
  m->tokenizer_ = std::move(tokenizer).value();

  auto pre_json = read_json(join_path(dir, "preprocessor_config.json"));
  if (!pre_json.ok()) return in_dir(pre_json.error());
  auto pre = read_clip_image_preprocess_config(pre_json.value());
  if (!pre.ok()) return in_dir(pre.error().context("preprocessor_config.json"));
  m->preprocess_ = pre.value();

  auto text_config = read_clip_text_config(config.value());
  if (!text_config.ok()) return in_dir(text_config.error().context("config.json"));
  auto vision_config = read_clip_vision_config(config.value());
  if (!vision_config.ok()) return in_dir(vision_config.error().context("config.json"));
  const auto out = clip_output_size(m->preprocess_);
  if (out[0] != vision_config->image_size || out[1] != vision_config->image_size)
    return error("model " + dir + ": preprocessor produces " + std::to_string(out[0]) + "x" + std::to_string(out[1]) +
                 " pixels but the vision tower takes " + std::to_string(vision_config->image_size));

  if (needs_calibration(m->weights_))
    if (auto st = m->calibrate(text_config.value(), vision_config.value()); !st.ok()) return in_dir(st.error());
  auto text = ClipTextTower::load(m->weights_, text_config.value());
  if (!text.ok()) return in_dir(text.error());
  m->text_ = std::move(text).value();
  auto vision = ClipVisionTower::load(m->weights_, vision_config.value());
  if (!vision.ok()) return in_dir(vision.error());
  m->vision_ = std::move(vision).value();
  release_checkpoint_pages(m->weights_);
  if (m->text_.config().projection_dim != m->vision_.config().projection_dim)
    return error("model " + dir + ": text and vision projections differ in size");
  return m;
}

// Calibration (model/calibration.h) on the texts, batch by batch (one length each), then the
// images in batches of four.
Status ClipModel::calibrate(const ClipTextConfig& text_config, const ClipVisionConfig& vision_config) {
  auto ends = tokenizer_.encode("", text_config.max_positions);
  if (!ends.ok()) return ends.error();
  const CalibrationTexts texts = calibration_texts(text_config.vocab_size, ends.value(), {}, text_config.max_positions,
                                                   calibration_multiple(weights_, "text_model.encoder."));
  std::vector<std::vector<float>> images;
  for (const Image& image : calibration_images()) {
    auto pixels = pixel_values(image);
    if (!pixels.ok()) return pixels.error();
    images.push_back(std::move(pixels).value());
  }
  const auto n_texts = static_cast<int64_t>(texts.ids.size());
  CalibrationInputs inputs;
  inputs.count = n_texts + static_cast<int64_t>(images.size());
  inputs.embed = [&](const std::vector<int64_t>& items) -> Result<Embeddings> {
    std::optional<ClipTextTower> text;
    std::optional<ClipVisionTower> vision;
    auto group = [&](int64_t i) { return i < n_texts ? texts.batch[i] : texts.batches + (i - n_texts) / 4; };
    return embed_runs(items, group, [&](const std::vector<int64_t>& run) -> Result<Embeddings> {
      if (run.front() < n_texts) {
        if (!text) {
          CC_TRY(text, ClipTextTower::load(weights_, text_config));
        }
        std::vector<std::vector<int32_t>> ids;
        for (int64_t i : run) ids.push_back(texts.ids[i]);
        return text->embed(ids);
      }
      if (!vision) {
        CC_TRY(vision, ClipVisionTower::load(weights_, vision_config));
      }
      std::vector<float> pixels;
      for (int64_t i : run) pixels.insert(pixels.end(), images[i - n_texts].begin(), images[i - n_texts].end());
      return vision->embed(pixels.data(), static_cast<int>(run.size()));
    });
  };
  return cc::calibrate(weights_, inputs);
}

Result<std::vector<int32_t>> ClipModel::tokenize(const std::string& text, int max_length) const {
  return tokenizer_.encode(text, max_length > 0 ? max_length : text_.config().max_positions);
}

Result<Embeddings> ClipModel::embed_token_ids(const std::vector<std::vector<int32_t>>& ids) const {
  return text_.embed(ids);
}

Result<Embeddings> ClipModel::embed_texts(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int32_t>> ids;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto t = tokenize(texts[i]);
    if (!t.ok()) return t.error().context("text " + std::to_string(i));
    ids.push_back(std::move(t).value());
  }
  return text_.embed(ids);
}

Result<std::vector<float>> ClipModel::pixel_values(const Image& image) const { return clip_pixel_values_of(image, preprocess_); }

Result<std::vector<float>> ClipModel::pixel_values(const uint8_t* data, size_t size, const ImageLimits& limits) const {
  return clip_pixel_values_of(data, size, limits, preprocess_);
}

Result<Embeddings> ClipModel::embed_pixel_values(const std::vector<float>& pixels, int count) const {
  const auto& c = vision_.config();
  const size_t per_image = static_cast<size_t>(c.channels) * c.image_size * c.image_size;
  if (count < 0 || pixels.size() != per_image * static_cast<size_t>(count))
    return error("pixel_values hold " + std::to_string(pixels.size()) + " floats, expected " +
                 std::to_string(per_image * std::max(count, 0)));
  return vision_.embed(pixels.data(), count);
}

Result<Embeddings> ClipModel::embed_images(const std::vector<Image>& images) const {
  std::vector<float> pixels;
  for (size_t i = 0; i < images.size(); ++i) {
    auto p = pixel_values(images[i]);
    if (!p.ok()) return p.error().context("image " + std::to_string(i));
    pixels.insert(pixels.end(), p->begin(), p->end());
  }
  return embed_pixel_values(pixels, static_cast<int>(images.size()));
}

}  // namespace cc
