#include "model/calibration.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <optional>
#include <random>
#include <set>

#include "core/activation_samples.h"
#include "core/gemm_weights.h"

namespace cc {

namespace {

// Uniform in [0, 1) from the raw engine (std's distributions differ between libraries).
double uniform(std::mt19937& rng) { return static_cast<double>(rng() >> 8) / (1u << 24); }

// 1 - cos of each vector of `got` (the vectors of `items`) to its fp32 one in `want` (all of them).
std::vector<double> errors(const Embeddings& got, const Embeddings& want, const std::vector<int64_t>& items) {
  std::vector<double> e(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const float* a = got.row(static_cast<int64_t>(i));
    const float* b = want.row(items[i]);
    double ab = 0, aa = 0, bb = 0;
    for (int k = 0; k < got.dim; ++k) ab += double(a[k]) * b[k], aa += double(a[k]) * a[k], bb += double(b[k]) * b[k];
    e[i] = aa > 0 && bb > 0 ? 1 - ab / std::sqrt(aa * bb) : (aa == bb ? 0.0 : 1.0);
  }
  return e;
}

double worst(const std::vector<double>& e) { return e.empty() ? 0.0 : *std::max_element(e.begin(), e.end()); }

// The accuracy guard: which layers to keep in fp32 so that no calibration input (`all` of
// them) is further than `allowed` (1 - cos) from its fp32 vector `want`. `err` is each input's
// error with every layer reduced. Each round takes the worst inputs, ranks the layers still
// reduced by what each alone (every other layer fp32) costs them, keeps layers in that order
// until those inputs are within `allowed`, then checks every input again.
Result<std::set<std::string>> layers_to_keep(GemmWeights& reduced, const CalibrationInputs& inputs, const std::vector<int64_t>& all,
                                             const Embeddings& want, std::vector<double> err, double allowed) {
  constexpr size_t kWorstInputs = 16;
  const std::vector<std::string> layers = reduced.reduced_layers();
  std::set<std::string> kept;
  while (worst(err) > allowed && kept.size() < layers.size()) {
    std::vector<int64_t> inputs_worst = all;
    const size_t n = std::min(kWorstInputs, all.size());
    std::partial_sort(inputs_worst.begin(), inputs_worst.begin() + n, inputs_worst.end(),
                      [&](int64_t a, int64_t b) { return err[a] != err[b] ? err[a] > err[b] : a < b; });
    inputs_worst.resize(n);
    std::sort(inputs_worst.begin(), inputs_worst.end());
    std::vector<std::pair<double, std::string>> ranked;  // (what the layer alone costs, its name)
    for (const std::string& layer : layers) {
      if (kept.contains(layer)) continue;
      std::set<std::string> others(layers.begin(), layers.end());
      others.erase(layer);
      reduced.keep_fp32(std::move(others));
      CC_TRY(Embeddings got, inputs.embed(inputs_worst));
      ranked.emplace_back(worst(errors(got, want, inputs_worst)), layer);
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    for (const auto& [cost, layer] : ranked) {
      kept.insert(layer);
      reduced.keep_fp32(kept);
      CC_TRY(Embeddings got, inputs.embed(inputs_worst));
      if (worst(errors(got, want, inputs_worst)) <= allowed) break;
    }
    CC_TRY(Embeddings got, inputs.embed(all));
    err = errors(got, want, all);
  }
  return kept;
}

}  // namespace

bool needs_calibration(const SafeTensors& weights) {
  const GemmWeights* made = weights.gemm_weights();
  return made && made->precision() != Precision::kFp32 && !made->mapped();
}

Status calibrate(SafeTensors& weights, const CalibrationInputs& inputs) {
  if (!needs_calibration(weights) || inputs.count == 0) return Ok{};
  const Precision precision = weights.gemm_weights()->precision();
  const std::string what = std::string(precision_name(precision)) + " calibration";
  std::shared_ptr<GemmWeights> reduced = weights.take_gemm_weights();
  std::vector<int64_t> all(static_cast<size_t>(inputs.count));
  std::iota(all.begin(), all.end(), 0);
  auto samples = std::make_shared<ActivationSamples>();
  Result<Embeddings> fp32 = [&] {
    std::optional<RecordActivations> recording;
    if (precision == Precision::kInt8) recording.emplace(*samples);
    return inputs.embed(all);
  }();
  weights.set_gemm_weights(reduced);
  if (!fp32.ok()) return fp32.error().context(what + ", fp32 pass");
  if (precision == Precision::kInt8) reduced->set_calibration(samples);
  const Embeddings& want = fp32.value();

  auto got = inputs.embed(all);
  if (!got.ok()) return got.error().context(what);
  std::vector<double> err = errors(got.value(), want, all);
  const double allowed = 1 - (precision == Precision::kBf16 ? kBf16Guard : kInt8Guard);
  if (worst(err) > allowed) {
    auto kept = layers_to_keep(*reduced, inputs, all, want, std::move(err), allowed / kGuardAim);
    if (!kept.ok()) return kept.error().context(what);
    // made anew with the choice: the search made every layer in both forms
    auto chosen = std::make_shared<GemmWeights>(precision);
    if (precision == Precision::kInt8) chosen->set_calibration(samples);
    chosen->keep_fp32(std::move(kept).value());
    weights.set_gemm_weights(std::move(chosen));
  }
  return Ok{};
}

int calibration_multiple(const SafeTensors& weights, const std::string& prefix) {
  int64_t params = 0;
  for (const std::string& name : weights.names()) {
    if (!name.starts_with(prefix)) continue;
    auto raw = weights.raw(name);
    if (!raw.ok()) continue;
    int64_t n = 1;
    for (int64_t d : raw->shape) n *= d;
    params += n;
  }
  return static_cast<int>(std::clamp<int64_t>(kCalibrationParams / std::max<int64_t>(params, 1), 1, kMaxCalibrationMultiple));
}

Result<Embeddings> embed_runs(const std::vector<int64_t>& items, const std::function<int64_t(int64_t)>& group_of,
                              const std::function<Result<Embeddings>(const std::vector<int64_t>& run)>& embed_run) {
  Embeddings out;
  for (size_t i = 0; i < items.size();) {
    std::vector<int64_t> run = {items[i]};
    for (++i; i < items.size() && group_of(items[i]) == group_of(run.front()); ++i) run.push_back(items[i]);
    CC_TRY(Embeddings e, embed_run(run));
    if (e.count != static_cast<int64_t>(run.size())) return error("calibration: a run of " + std::to_string(run.size()) + " inputs gave " + std::to_string(e.count) + " vectors");
    out.dim = e.dim;
    out.count += e.count;
    out.values.insert(out.values.end(), e.values.begin(), e.values.end());
  }
  return out;
}

std::vector<std::vector<std::vector<int32_t>>> calibration_token_ids(int vocab, const std::vector<int32_t>& ends,
                                                                     const std::vector<int32_t>& specials, int max_tokens,
                                                                     int multiple) {
  auto ordinary = [&](int32_t id) {  // drawn from: not the empty text's, not the specials
    return std::find(ends.begin(), ends.end(), id) == ends.end() && std::find(specials.begin(), specials.end(), id) == specials.end();
  };
  bool any = false;
  for (int32_t id = 0; id < vocab && !any; ++id) any = ordinary(id);
  const int room = any ? max_tokens - static_cast<int>(ends.size()) : 0;
  const int lengths = std::clamp(room, 1, kCalibrationLengths);
  std::mt19937 rng(20261129);
  std::vector<std::vector<std::vector<int32_t>>> batches(lengths);
  for (int i = 0; i < kCalibrationSequences * multiple; ++i) {
    const int length = std::min(1 + i % lengths, std::max(room, 0));
    std::vector<int32_t> ids(ends.begin(), ends.end() - (ends.empty() ? 0 : 1));  // all but the last: <s>, ...
    for (int t = 0; t < length;) {
      const auto id = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
      if (ordinary(id)) ids.push_back(id), ++t;
    }
    if (!ends.empty()) ids.push_back(ends.back());  // </s>
    if (!ids.empty()) batches[i % lengths].push_back(std::move(ids));
  }
  return batches;
}

CalibrationTexts calibration_texts(int vocab, const std::vector<int32_t>& ends, const std::vector<int32_t>& specials,
                                   int max_tokens, int multiple) {
  CalibrationTexts texts;
  for (auto& batch : calibration_token_ids(vocab, ends, specials, max_tokens, multiple)) {
    for (auto& ids : batch) {
      texts.ids.push_back(std::move(ids));
      texts.batch.push_back(texts.batches);
    }
    ++texts.batches;
  }
  return texts;
}

std::vector<Image> calibration_images() {
  std::mt19937 rng(7);
  constexpr int kSide = 96;
  std::vector<Image> out;
  for (int i = 0; i < 64; ++i) {
    Image img = make_image(kSide, kSide);
    float grid[3][3][3];  // a 3x3 grid of colours, interpolated over the image
    for (auto& row : grid)
      for (auto& cell : row)
        for (float& c : cell) c = static_cast<float>(255 * uniform(rng));
    const double noise = i % 4 == 2 ? 24 : i % 4 == 3 ? 128 : 0;
    for (int y = 0; y < kSide; ++y)
      for (int x = 0; x < kSide; ++x) {
        const float gy = 2.0f * y / (kSide - 1), gx = 2.0f * x / (kSide - 1);
        const int y0 = std::min(static_cast<int>(gy), 1), x0 = std::min(static_cast<int>(gx), 1);
        const float fy = gy - y0, fx = gx - x0;
        for (int c = 0; c < 3; ++c) {
          const float top = grid[y0][x0][c] * (1 - fx) + grid[y0][x0 + 1][c] * fx;
          const float bottom = grid[y0 + 1][x0][c] * (1 - fx) + grid[y0 + 1][x0 + 1][c] * fx;
          const double v = top * (1 - fy) + bottom * fy + noise * (2 * uniform(rng) - 1);
          img.rgb[(static_cast<size_t>(y) * kSide + x) * 3 + c] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
        }
      }
    if (i % 4 == 1)
      for (int box = 0; box < 4; ++box) {
        const int x0 = static_cast<int>(rng() % kSide), y0 = static_cast<int>(rng() % kSide);
        const int w = 8 + static_cast<int>(rng() % 40), h = 8 + static_cast<int>(rng() % 40);
        uint8_t colour[3];
        for (uint8_t& c : colour) c = static_cast<uint8_t>(rng() % 256);
        for (int y = y0; y < std::min(y0 + h, kSide); ++y)
          for (int x = x0; x < std::min(x0 + w, kSide); ++x)
            std::copy(colour, colour + 3, img.rgb.begin() + (static_cast<size_t>(y) * kSide + x) * 3);
      }
    out.push_back(std::move(img));
  }
  return out;
}

std::vector<Audio> calibration_clips(int rate) {
  std::mt19937 rng(11);
  const size_t n = static_cast<size_t>(rate) * 10;
  const double two_pi = 2 * std::numbers::pi;
  std::vector<Audio> out(4, Audio{rate, std::vector<double>(n, 0.0)});
  double tones[5];
  for (double& f : tones) f = 60 * std::pow(2.0, 7 * uniform(rng));  // 60 Hz to 7.7 kHz
  double click = 0;
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate;
    out[0].samples[i] = (2 * uniform(rng) - 1) * (0.1 + 0.4 * (1 + std::sin(two_pi * 0.3 * t)) / 2);
    double chord = 0;
    for (double f : tones) chord += 0.1 * std::sin(two_pi * f * t);
    out[1].samples[i] = chord * (0.6 + 0.4 * std::sin(two_pi * 0.5 * t));
    if (uniform(rng) < 10.0 / rate) click = 2 * uniform(rng) - 1;  // about ten clicks a second, decaying over ~5 ms
    click *= std::exp(-1.0 / (0.005 * rate));
    out[2].samples[i] = 0.8 * click + 0.01 * (2 * uniform(rng) - 1);
    const double phase = two_pi * 100 * 10 / std::log(120.0) * (std::pow(120.0, t / 10) - 1);  // 100 Hz to 12 kHz
    out[3].samples[i] = t >= 4 && t < 6 ? 0.0 : 0.3 * std::sin(phase);
  }
  return out;
}

}  // namespace cc
