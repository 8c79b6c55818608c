// clipclap bench: times this engine's towers on a model directory. Medians of repeated runs,
// after warm-up, at each batch size. scripts/bench.py runs it beside ONNX Runtime and PyTorch
// on the same weights and prints the ratios.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/threads.h"
#include "model/clip_model.h"

namespace cc {

namespace {

const std::vector<Flag> kFlags = {
    {"model", "DIR", "model directory (CLIP checkpoint)"},
    {"modality", "LIST", "what to time: image, text or both", "image,text"},
    {"batch", "LIST", "batch sizes", "1,8"},
    {"captions", "FILE", "texts for the text tower, one per line (batch b takes the first b)"},
    {"iters", "N", "timed runs per setting (the median is reported)", "20"},
    {"warmup", "N", "untimed runs first", "3"},
    {"threads", "N", "threads (0 = all cores)", "0"},
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

}  // namespace

int cmd_bench(int argc, char** argv) {
  auto args = Args::parse(kFlags, argc, argv);
  auto fail = [](const std::string& msg, int code) {
    std::fprintf(stderr, "clipclap bench: %s\n", msg.c_str());
    return code;
  };
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage("clipclap bench --model DIR [options]",
                     "Times the text and vision towers (inputs already tokenised / preprocessed) and reports\n"
                     "items/s from the median run, with load time and memory.",
                     kFlags).c_str(),
               stdout);
    return 0;
  }
  auto batches = args->get_int_list("batch", "1,8");
  auto iters = args->get_int("iters", 20, 1, 100000);
  auto warmup = args->get_int("warmup", 3, 0, 100000);
  auto threads = args->get_int("threads", 0, 0, 1024);
  if (!batches.ok()) return fail(batches.error().message, 2);
  if (!iters.ok()) return fail(iters.error().message, 2);
  if (!warmup.ok()) return fail(warmup.error().message, 2);
  if (!threads.ok()) return fail(threads.error().message, 2);
  if (!args->has("model")) return fail("--model DIR is required", 2);
  const std::string modality = args->get("modality", "image,text");
  const bool do_image = modality.find("image") != std::string::npos, do_text = modality.find("text") != std::string::npos;
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

  const double t0 = now_s();
  auto loaded = ClipModel::load(args->get("model"));
  if (!loaded.ok()) return fail(loaded.error().message, 1);
  const double load_ms = (now_s() - t0) * 1000;
  const ClipModel& m = *loaded.value();
  const double rss_after_load = proc_status_mib("VmRSS");

  nlohmann::json results = nlohmann::json::array();
  for (int b : batches.value()) {
    if (do_image) {
      const auto& vc = m.vision_tower().config();
      std::vector<float> pixels(static_cast<size_t>(b) * 3 * vc.image_size * vc.image_size);
      std::mt19937 rng(1234);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      for (float& p : pixels) p = normal(rng);
      const double s = median_seconds([&] { (void)m.embed_pixel_values(pixels, b); }, warmup.value(), iters.value());
      results.push_back({{"modality", "image"}, {"batch", b}, {"median_ms", s * 1000}, {"items_per_s", b / s}});
    }
    if (do_text) {
      std::vector<std::vector<int32_t>> ids;
      for (int i = 0; i < b; ++i) {
        auto t = m.tokenize(captions[i % captions.size()]);
        if (!t.ok()) return fail(t.error().message, 1);
        ids.push_back(std::move(t).value());
      }
      const double s = median_seconds([&] { (void)m.embed_token_ids(ids); }, warmup.value(), iters.value());
      results.push_back({{"modality", "text"}, {"batch", b}, {"median_ms", s * 1000}, {"items_per_s", b / s}});
    }
  }
  nlohmann::json report = {{"engine", "clipclap"},
                           {"threads", num_threads()},
                           {"iters", iters.value()},
                           {"load_ms", load_ms},
                           {"weight_file_mib", m.weight_file_bytes() / 1048576.0},
                           {"copied_weight_mib", m.copied_weight_bytes() / 1048576.0},
                           {"rss_after_load_mib", rss_after_load},
                           {"peak_rss_mib", proc_status_mib("VmHWM")},
                           {"results", results}};
  if (args->has("json")) {
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
  }
  std::printf("clipclap bench: %s, %d threads, median of %d runs\n", m.dir().c_str(), num_threads(), iters.value());
  std::printf("load %.0f ms, weights %.1f MiB mapped (%.1f MiB copied), RSS after load %.1f MiB, peak %.1f MiB\n",
              load_ms, m.weight_file_bytes() / 1048576.0, m.copied_weight_bytes() / 1048576.0, rss_after_load,
              proc_status_mib("VmHWM"));
  std::printf("%-8s %6s %12s %12s\n", "modality", "batch", "median ms", "items/s");
  for (const auto& r : results)
    std::printf("%-8s %6d %12.2f %12.2f\n", r["modality"].get<std::string>().c_str(), r["batch"].get<int>(),
                r["median_ms"].get<double>(), r["items_per_s"].get<double>());
  return 0;
}

}  // namespace cc
