#include "model/calibration.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "core/activation_samples.h"
#include "core/gemm_weights.h"

namespace cc {

namespace {

// Uniform in [0, 1) from the raw engine (std's distributions differ between libraries).
double uniform(std::mt19937& rng) { return static_cast<double>(rng() >> 8) / (1u << 24); }

}  // namespace

Status calibrate_int8(SafeTensors& weights, const std::function<Status()>& fp32_pass) {
  GemmWeights* made = weights.gemm_weights();
  if (!made || made->precision() != Precision::kInt8 || made->mapped()) return Ok{};
  std::shared_ptr<GemmWeights> int8 = weights.take_gemm_weights();
  auto samples = std::make_shared<ActivationSamples>();
  Status pass = [&] {
    RecordActivations recording(*samples);
    return fp32_pass();
  }();
  weights.set_gemm_weights(int8);
  if (!pass.ok()) return pass.error().context("int8 calibration");
  int8->set_calibration(std::move(samples));
  return Ok{};
}

std::vector<std::vector<std::vector<int32_t>>> calibration_token_ids(int vocab, const std::vector<int32_t>& ends,
                                                                     const std::vector<int32_t>& specials, int max_tokens) {
  auto ordinary = [&](int32_t id) {  // drawn from: not the empty text's, not the specials
    return std::find(ends.begin(), ends.end(), id) == ends.end() && std::find(specials.begin(), specials.end(), id) == specials.end();
  };
  bool any = false;
  for (int32_t id = 0; id < vocab && !any; ++id) any = ordinary(id);
  const int room = any ? max_tokens - static_cast<int>(ends.size()) : 0;
  const int lengths = std::clamp(room, 1, kCalibrationLengths);
  std::mt19937 rng(20261129);
  std::vector<std::vector<std::vector<int32_t>>> batches(lengths);
  for (int i = 0; i < kCalibrationSequences; ++i) {
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
