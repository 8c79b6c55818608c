// clipclap bench: times this engine's towers on a model directory. Medians of repeated runs,
// after warm-up, at each batch size. scripts/bench.py runs it beside ONNX Runtime and PyTorch
// on the same weights and prints the ratios.
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/flags.h"
#include "cli/commands.h"
#include "audio/decode_audio.h"
#include "core/threads.h"
#include "model/clap_model.h"
#include "model/clip_model.h"
#include "model/model_kind.h"

namespace cc {

namespace {

const std::vector<Flag> kBenchFlags = {
    {"model", "DIR", "model directory (CLIP or CLAP checkpoint)"},
    {"modality", "LIST", "what to time with a CLIP model: image, text or both", "image,text"},
    {"batch", "LIST", "batch sizes", "1,8 (CLIP), 1,4 (CLAP)"},
    {"captions", "FILE", "texts for the text tower, one per line (batch b takes the first b)"},
    {"iters", "N", "timed runs per setting (the median is reported)", "20"},
    {"warmup", "N", "untimed runs first", "3"},
    {"threads", "N", "threads (0 = all cores)", "0"},
    precision_flag(),
    {"no-pack", "", "fp32 without a pack file: read the mapped weights in place (as serve --no-pack)"},
    {"json", "", "print JSON instead of a table"},
    {"help", "", "show this text"},
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// VmRSS / VmHWM from /proc/self/status, in MiB.
double proc_status_mib(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;
  return 0;
}

// A 10-s, 44.1 kHz stereo PCM16 WAV in memory: the clip the audio front end is timed on.
std::vector<uint8_t> test_wav() {
  const int rate = 44100, frames = rate * 10;
  std::vector<uint8_t> b;
  auto put = [&](uint32_t v, int bytes) { for (int i = 0; i < bytes; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i))); };
  for (char ch : std::string("RIFF")) b.push_back(ch);
  put(36 + frames * 4, 4);
  for (char ch : std::string("WAVEfmt ")) b.push_back(ch);
  put(16, 4), put(1, 2), put(2, 2), put(rate, 4), put(rate * 4, 4), put(4, 2), put(16, 2);
  for (char ch : std::string("data")) b.push_back(ch);
  put(frames * 4, 4);
  for (int i = 0; i < frames; ++i) {
    const double t = static_cast<double>(i) / rate;
    put(static_cast<uint16_t>(static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440 * t))), 2);
    put(static_cast<uint16_t>(static_cast<int16_t>(6000 * std::sin(2 * M_PI * (200 + 300 * t) * t))), 2);
  }
  return b;
}

template <class Fn>
double median_seconds(Fn&& run, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) run();
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    const double t0 = now_s();
    run();
    t.push_back(now_s() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct Timing {
  int warmup, iters;
};

template <class Fn>
double median_seconds(Fn&& run, const Timing& t) {
  return median_seconds(run, t.warmup, t.iters);
}

nlohmann::json result(const std::string& modality, int batch, double seconds) {
  return {{"modality", modality}, {"batch", batch}, {"median_ms", seconds * 1000}, {"items_per_s", batch / seconds}};
}

// CLIP: the vision tower on random pixel_values, the text tower on the first `batch` captions.
Status bench_clip(const std::string& dir, const WeightOptions& options, const std::vector<int>& batches, bool do_image,
                  bool do_text, const std::vector<std::string>& captions, const Timing& timing, nlohmann::json& report) {
  const double t0 = now_s();
  CC_TRY(std::unique_ptr<ClipModel> loaded, ClipModel::load(dir, options));
  report["load_ms"] = (now_s() - t0) * 1000;
  const ClipModel& m = *loaded;
  report["weight_file_mib"] = m.weight_file_bytes() / 1048576.0;
  report["copied_weight_mib"] = m.copied_weight_bytes() / 1048576.0;
  report["packed_weight_mib"] = m.packed_weight_bytes() / 1048576.0;
  report["packed_weights_mapped"] = m.gemm_weights() && m.gemm_weights()->mapped();  // else made at load
  report["fp32_layers"] = m.gemm_weights() ? m.gemm_weights()->kept_fp32().size() : 0;  // the accuracy guard's
  report["rss_after_load_mib"] = proc_status_mib("VmRSS");
  report["results"] = nlohmann::json::array();
  for (int b : batches) {
    if (do_image) {
      const auto& vc = m.vision_tower().config();
      std::vector<float> pixels(static_cast<size_t>(b) * 3 * vc.image_size * vc.image_size);
      std::mt19937 rng(1234);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      for (float& p : pixels) p = normal(rng);
      report["results"].push_back(result("image", b, median_seconds([&] { (void)m.embed_pixel_values(pixels, b); }, timing)));
    }
    if (do_text) {
      std::vector<std::vector<int32_t>> ids;
      for (int i = 0; i < b; ++i) {
        CC_TRY(std::vector<int32_t> t, m.tokenize(captions[i % captions.size()]));
        ids.push_back(std::move(t));
      }
      report["results"].push_back(result("text", b, median_seconds([&] { (void)m.embed_token_ids(ids); }, timing)));
    }
  }
  return Ok{};
}

// CLAP: the tower on random log-mels; decoding, resampling and log-mel features of a 10-s
// 44.1 kHz stereo WAV each timed on their own.
Status bench_clap(const std::string& dir, const WeightOptions& options, const std::vector<int>& batches,
                  const Timing& timing, nlohmann::json& report) {
  const double t0 = now_s();
  CC_TRY(std::unique_ptr<ClapModel> loaded, ClapModel::load(dir, options));
  report["load_ms"] = (now_s() - t0) * 1000;
  const ClapModel& m = *loaded;
  report["weight_file_mib"] = m.mapped_weight_bytes() / 1048576.0;
  report["copied_weight_mib"] = 0.0;
  report["packed_weight_mib"] = m.packed_weight_bytes() / 1048576.0;
  report["packed_weights_mapped"] = m.gemm_weights() && m.gemm_weights()->mapped();  // else made at load
  report["fp32_layers"] = m.gemm_weights() ? m.gemm_weights()->kept_fp32().size() : 0;  // the accuracy guard's
  report["rss_after_load_mib"] = proc_status_mib("VmRSS");
  const auto wav = test_wav();
  auto clip = decode_audio(wav.data(), wav.size());
  if (!clip.ok()) return clip.error();
  auto wave = m.at_model_rate(clip.value());
  if (!wave.ok()) return wave.error();
  const std::vector<double> window = m.features().pad(wave.value());  // the clip's one window
  const double decode = median_seconds([&] { (void)decode_audio(wav.data(), wav.size()); }, timing);
  const double resample = median_seconds([&] { (void)m.at_model_rate(clip.value()); }, timing);
  const double features = median_seconds([&] { (void)m.features().log_mel(window.data()); }, timing);
  report["decode_ms"] = decode * 1000;
  report["resample_ms"] = resample * 1000;
  report["features_ms"] = features * 1000;
  report["results"] = nlohmann::json::array();
  const auto& fc = m.features().config();
  const size_t per_clip = static_cast<size_t>(m.tower().config().channels()) * fc.frames() * fc.feature_size;
  for (int b : batches) {
    std::vector<float> mel(b * per_clip);
    std::mt19937 rng(1234);
    std::normal_distribution<float> normal(-40.0f, 20.0f);
    for (float& v : mel) v = normal(rng);
    const double s = median_seconds([&] { (void)m.embed_features(mel, b); }, timing);
    report["results"].push_back(result("audio", b, s));
    if (b == 1) {
      report["features_pct_of_tower"] = 100 * features / s;
      report["front_end_pct_of_tower"] = 100 * (decode + resample + features) / s;
    }
  }
  return Ok{};
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  auto args = Args::parse(kBenchFlags, argc, argv);
  auto fail = [](const std::string& msg, int code) {
    std::fprintf(stderr, "clipclap bench: %s\n", msg.c_str());
    return code;
  };
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage("clipclap bench --model DIR [options]",
                     "Times the text and vision towers (inputs already tokenised / preprocessed) and reports\n"
                     "items/s from the median run, with load time and memory.",
                     kBenchFlags).c_str(),
               stdout);
    return 0;
  }
  const std::string dir = args->has("model") ? args->get("model") : "";
  auto kind = inspect_model(dir);
  if (!kind.ok()) return fail(kind.error().message, args->has("model") ? 1 : 2);
  const bool clap = kind->kind == ModelKind::kClap;
  auto batches = args->get_int_list("batch", clap ? "1,4" : "1,8");
  auto iters = args->get_int("iters", 1, 100000);
  auto warmup = args->get_int("warmup", 0, 100000);
  auto threads = args->get_int("threads", 0, 1024);
  if (!batches.ok()) return fail(batches.error().message, 2);
  if (!iters.ok()) return fail(iters.error().message, 2);
  if (!warmup.ok()) return fail(warmup.error().message, 2);
  if (!threads.ok()) return fail(threads.error().message, 2);
  auto precision = parse_precision(args->value("precision"));
  if (!precision.ok()) return fail(precision.error().message, 2);
  const std::string modality = args->value("modality");
  const bool do_image = !clap && modality.find("image") != std::string::npos;
  const bool do_text = !clap && modality.find("text") != std::string::npos;
  std::vector<std::string> captions;
  if (do_text) {
    if (!args->has("captions")) return fail("--captions FILE is required to time the text tower", 2);
    std::ifstream f(args->get("captions"));
    if (!f) return fail(args->get("captions") + ": cannot open", 1);
    for (std::string line; std::getline(f, line);)
      if (!line.empty()) captions.push_back(line);
    if (captions.empty()) return fail(args->get("captions") + ": no captions", 1);
  }
  set_num_threads(threads.value());

  nlohmann::json report = {{"engine", "clipclap"}, {"model", dir}, {"threads", num_threads()}, {"iters", iters.value()},
                           {"precision", precision_name(precision.value())}};
  const Timing timing{warmup.value(), iters.value()};
  WeightOptions options;
  options.precision = precision.value();
  options.pack_at_load = !args->has("no-pack");
  Status st = clap ? bench_clap(dir, options, batches.value(), timing, report)
                   : bench_clip(dir, options, batches.value(), do_image, do_text, captions, timing, report);
  if (!st.ok()) return fail(st.error().message, 1);
  report["peak_rss_mib"] = proc_status_mib("VmHWM");
  if (args->has("json")) {
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
  }
  std::printf("clipclap bench: %s, %s, %d threads, median of %d runs\n", dir.c_str(), precision_name(precision.value()),
              num_threads(), iters.value());
  std::printf("load %.0f ms, weights %.1f MiB mapped (%.1f MiB of them packed, %.1f MiB copied), RSS after load %.1f MiB, "
              "peak %.1f MiB\n",
              report["load_ms"].get<double>(), report["weight_file_mib"].get<double>() + report["packed_weight_mib"].get<double>(),
              report["packed_weight_mib"].get<double>(), report["copied_weight_mib"].get<double>(),
              report["rss_after_load_mib"].get<double>(),
              report["peak_rss_mib"].get<double>());
  if (const int kept = report["fp32_layers"].get<int>(); kept > 0)
    std::printf("%d linear layers kept in fp32 for accuracy (README \"Precision\")\n", kept);
  if (clap)
    std::printf("10-s 44.1 kHz stereo WAV: decode %.2f ms, resample %.2f ms, log-mel features %.2f ms = %.1f %% of the "
                "tower at batch 1 (all three: %.1f %%)\n",
                report["decode_ms"].get<double>(), report["resample_ms"].get<double>(), report["features_ms"].get<double>(),
                report.value("features_pct_of_tower", 0.0), report.value("front_end_pct_of_tower", 0.0));
  std::printf("%-8s %6s %12s %12s\n", "modality", "batch", "median ms", "items/s");
  for (const auto& r : report["results"])
    std::printf("%-8s %6d %12.2f %12.2f\n", r["modality"].get<std::string>().c_str(), r["batch"].get<int>(),
                r["median_ms"].get<double>(), r["items_per_s"].get<double>());
  return 0;
}

}  // namespace cc
