#include "model/clap_text_model.h"

#include "core/file.h"
#include "core/packed_weights.h"
#include "model/calibration.h"

namespace cc {

Result<std::unique_ptr<ClapTextModel>> ClapTextModel::load(const std::string& dir, const WeightOptions& options) {
  auto in_dir = [&](const Error& e) { return e.context("model " + dir); };
  if (!is_directory(dir)) return error("model " + dir + ": not a directory");
  std::unique_ptr<ClapTextModel> m(new ClapTextModel());
  auto config = read_json(join_path(dir, "config.json"));
  if (!config.ok()) return in_dir(config.error());
  auto text_config = read_clap_text_config(config.value());
  if (!text_config.ok()) return in_dir(text_config.error().context("config.json"));
  auto tokenizer = RobertaTokenizer::load(join_path(dir, "tokenizer.json"));
  if (!tokenizer.ok()) return in_dir(tokenizer.error());
  m->tokenizer_ = std::move(tokenizer).value();
  const std::vector<std::string> prefixes = {"text_model.", "text_projection."};
  auto weights = SafeTensors::open(join_path(dir, "model.safetensors"), prefixes);
  if (!weights.ok()) return in_dir(weights.error());
  m->weights_ = std::move(weights).value();
  if (auto st = attach_packed_weights(m->weights_, prefixes, options); !st.ok()) return in_dir(st.error());
  if (needs_calibration(m->weights_))
    if (auto st = m->calibrate(text_config.value()); !st.ok()) return in_dir(st.error());
  auto tower = ClapTextTower::load(m->weights_, text_config.value());
  if (!tower.ok()) return in_dir(tower.error());
  m->tower_ = std::move(tower).value();
  release_checkpoint_pages(m->weights_);
  return m;
}

// Calibration (model/calibration.h) on the texts, batch by batch (one length each: the rows of
// padding would be recorded too).
Status ClapTextModel::calibrate(const ClapTextConfig& config) {
  CC_TRY(std::vector<int32_t> ends, tokenizer_.encode("", config.max_tokens()));
  const CalibrationTexts texts = calibration_texts(config.vocab_size, ends, {config.pad_token_id}, config.max_tokens(),
                                                   calibration_multiple(weights_, "text_model.encoder."));
  CalibrationInputs inputs;
  inputs.count = static_cast<int64_t>(texts.ids.size());
  inputs.embed = [&](const std::vector<int64_t>& items) -> Result<Embeddings> {
    CC_TRY(ClapTextTower tower, ClapTextTower::load(weights_, config));
    return embed_runs(items, [&](int64_t i) { return texts.batch[i]; }, [&](const std::vector<int64_t>& run) {
      std::vector<std::vector<int32_t>> ids;
      for (int64_t i : run) ids.push_back(texts.ids[i]);
      return tower.embed(ids);
    });
  };
  return cc::calibrate(weights_, inputs);
}

Result<std::vector<int32_t>> ClapTextModel::tokenize(const std::string& text, int max_length) const {
  return tokenizer_.encode(text, max_length > 0 ? max_length : tower_.config().max_tokens());
}

Result<Embeddings> ClapTextModel::embed_texts(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int32_t>> ids;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto t = tokenize(texts[i]);
    if (!t.ok()) return t.error().context("text " + std::to_string(i));
    ids.push_back(std::move(t).value());
  }
  return tower_.embed(ids);
}

}  // namespace cc
