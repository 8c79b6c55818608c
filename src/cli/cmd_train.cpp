// clipclap train-projection: encodes captions and audio with the CLIP and CLAP towers (cached
// on disk), trains the CLAP -> CLIP projection and writes it with its metadata. Every input is
// read and checked before training, and the outputs are written only at the end, atomically.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bundle/resolve_model.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/safetensors.h"
#include "core/sha256.h"
#include "core/threads.h"
#include "model/clap_model.h"
#include "model/clap_text_model.h"
#include "model/clip_model.h"
#include "train/datasets.h"
#include "train/onnx_export.h"
#include "train/trainer.h"
#include "train/vector_cache.h"

namespace cc {

namespace {

const std::vector<Flag> kFlags = {
    {"clip", "DIR|org/name", "CLIP checkpoint (its text tower gives the targets)"},
    {"clap", "DIR|org/name", "CLAP checkpoint (its audio tower, and its text tower for the text bridge)"},
    {"out", "DIR", "where to write projection.safetensors, audio_projection.onnx and projection_training_metadata.json"},
    {"mode", "MODE", "text-bridge (CLAP text -> CLIP text, cosine loss), audio-caption (CLAP audio -> CLIP text, symmetric InfoNCE) or both; default: what the data allows"},
    {"captions", "FILE", "captions for the text bridge: .txt (one per line), COCO .json, .jsonl, or .csv with a caption column", "", true},
    {"pairs", "FILE", "audio-caption pairs: .csv or .jsonl with an audio path (relative to the file) and caption(s)"},
    {"epochs", "N", "training epochs", "20"},
    {"batch", "N", "pairs per step", "256"},
    {"lr", "RATE", "Adam learning rate", "0.001"},
    {"temperature", "T", "InfoNCE temperature", "0.07"},
    {"val-fraction", "F", "share of the pairs held out for evaluation (between 0 and 1)", "0.1"},
    {"seed", "N", "seed of the split and the shuffles (same seed, same weights)", "0"},
    {"threads", "N", "threads for encoding and training (0 = all cores)", "0"},
    {"cache", "DIR", "where encoded vectors are kept between runs ('' disables)", "~/.cache/clipclap/vectors"},
    {"help", "", "show this text"},
};

std::string default_cache() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg) return std::string(xdg) + "/clipclap/vectors";
  return home ? std::string(home) + "/.cache/clipclap/vectors" : "";
}

// Encodes `items` with `encode` (batches of 32), through the cache. Each distinct key is
// encoded once and its vector shared by its repeats: a GEMM's rounding can depend on the batch
// around an input (oneDNN's AVX2 kernels block rows by batch size), and a repeat encoded in
// another batch would then differ by an ulp from the one vector the cache keeps.
template <class Encode>
Result<std::vector<std::vector<float>>> encode_cached(const std::vector<std::string>& keys, const VectorCache& cache,
                                                      const std::string& label, Encode encode) {
  std::vector<std::vector<float>> out(keys.size());
  std::vector<size_t> todo;
  std::map<std::string, size_t> first;  // key -> its first index
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!first.emplace(keys[i], i).second) continue;
    if (auto v = cache.get(keys[i])) out[i] = std::move(*v);
    else todo.push_back(i);
  }
  ProgressBar bar(label, static_cast<int>(todo.size()));
  for (size_t start = 0; start < todo.size(); start += 32) {
    const size_t end = std::min(todo.size(), start + 32);
    std::vector<size_t> batch(todo.begin() + start, todo.begin() + end);
    CC_TRY(Embeddings e, encode(batch));
    for (size_t k = 0; k < batch.size(); ++k) {
      out[batch[k]].assign(e.row(k), e.row(k) + e.dim);
      cache.put(keys[batch[k]], out[batch[k]]);
    }
    bar.update(static_cast<int>(end));
  }
  for (size_t i = 0; i < keys.size(); ++i)
    if (out[i].empty()) out[i] = out[first[keys[i]]];
  return out;
}

nlohmann::json metrics_json(const Evaluation& e) {
  return {{"loss", e.loss},
          {"mean_cosine", e.cosine},
          {"text_to_source", retrieval_json(e.from_text)},
          {"source_to_text", retrieval_json(e.to_text)}};
}

}  // namespace

int cmd_train(int argc, char** argv) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap train-projection: %s\n", message.c_str());
    return code;
  };
  auto args = Args::parse(kFlags, argc, argv);
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage("clipclap train-projection --clip DIR --clap DIR --out DIR [--captions FILE]... [--pairs FILE] [options]",
                     "Trains the linear map W (512x512) from CLAP's space into CLIP's: the text bridge maps CLAP text\n"
                     "vectors onto CLIP text vectors of the same captions; audio-caption maps CLAP audio vectors onto\n"
                     "CLIP text vectors of their captions. Four candidates (bias on/off, identity or least-squares\n"
                     "start) are trained and the best on the held-out pairs is kept.",
                     kFlags).c_str(),
               stdout);
    return 0;
  }
  for (const char* required : {"clip", "clap", "out"})
    if (!args->has(required)) return fail(std::string("--") + required + " DIR is required", 2);
  TrainOptions opts;
  auto epochs = args->get_int("epochs", 20, 1, 100000);
  auto batch = args->get_int("batch", 256, 2, 1 << 20);
  auto lr = args->get_double("lr", 1e-3, 1e-9, 10);
  auto temperature = args->get_double("temperature", 0.07, 1e-4, 100);
  auto val = args->get_double("val-fraction", 0.1, 0, 1);
  auto seed = args->get_int("seed", 0, 0, 2'000'000'000);
  auto threads = args->get_int("threads", 0, 0, 1024);
  for (const Error* e : {epochs.ok() ? nullptr : &epochs.error(), batch.ok() ? nullptr : &batch.error(),
                         lr.ok() ? nullptr : &lr.error(), temperature.ok() ? nullptr : &temperature.error(),
                         val.ok() ? nullptr : &val.error(), seed.ok() ? nullptr : &seed.error(),
                         threads.ok() ? nullptr : &threads.error()})
    if (e) return fail(e->message, 2);
  if (!(val.value() > 0 && val.value() < 1)) return fail("--val-fraction must be between 0 and 1 (exclusive)", 2);
  const auto caption_files = args->all("captions");
  const std::string pairs_file = args->get("pairs");
  opts.mode = args->get("mode", caption_files.empty() ? "audio-caption" : pairs_file.empty() ? "text-bridge" : "both");
  opts.epochs = epochs.value(), opts.batch = batch.value(), opts.lr = lr.value();
  opts.temperature = temperature.value(), opts.val_fraction = val.value(), opts.seed = static_cast<uint64_t>(seed.value());
  const bool use_bridge = opts.mode == "text-bridge" || opts.mode == "both";
  const bool use_audio = opts.mode == "audio-caption" || opts.mode == "both";
  if (!use_bridge && !use_audio) return fail("unknown --mode '" + opts.mode + "' (text-bridge, audio-caption, both)", 2);
  if (use_bridge && caption_files.empty()) return fail("--mode " + opts.mode + " needs --captions FILE", 2);
  if (use_audio && pairs_file.empty()) return fail("--mode " + opts.mode + " needs --pairs FILE", 2);
  set_num_threads(threads.value());
  const auto t0 = std::chrono::steady_clock::now();

  // Data first: a bad file fails before any model is loaded.
  std::vector<std::string> captions;
  nlohmann::json data_files = nlohmann::json::array();
  if (use_bridge) {
    for (const auto& f : caption_files) {
      auto c = read_captions(f);
      if (!c.ok()) return fail(c.error().message, 1);
      captions.insert(captions.end(), c->begin(), c->end());
      data_files.push_back({{"file", f}, {"role", "captions"}, {"sha256", sha256_file(f).value()}, {"items", c->size()}});
    }
  }
  std::vector<CaptionedMedia> pairs;
  if (use_audio) {
    auto p = read_pairs(pairs_file);
    if (!p.ok()) return fail(p.error().message, 1);
    pairs = std::move(p).value();
    data_files.push_back({{"file", pairs_file}, {"role", "pairs"}, {"sha256", sha256_file(pairs_file).value()},
                          {"items", pairs.size()}});
  }

  auto clip_dir = resolve_model_arg(args->get("clip"));  // a directory or org/name
  if (!clip_dir.ok()) return fail(clip_dir.error().message, 1);
  auto clap_dir = resolve_model_arg(args->get("clap"));
  if (!clap_dir.ok()) return fail(clap_dir.error().message, 1);
  auto clip = ClipModel::load(clip_dir.value());
  if (!clip.ok()) return fail(clip.error().message, 1);
  const std::string cache_dir = args->has("cache") ? args->get("cache") : default_cache();
  const VectorCache clip_cache(cache_dir, model_cache_key(clip_dir.value(), "clip-text"));
  auto clip_texts = [&](const std::vector<std::string>& texts) {
    return encode_cached(texts, clip_cache, "CLIP text", [&](const std::vector<size_t>& idx) {
      std::vector<std::string> b;
      for (size_t i : idx) b.push_back(texts[i]);
      return clip.value()->embed_texts(b);
    });
  };

  PairedVectors bridge, audio;
  if (use_bridge) {
    auto clap_text = ClapTextModel::load(clap_dir.value());
    if (!clap_text.ok()) return fail(clap_text.error().message, 1);
    const VectorCache cache(cache_dir, model_cache_key(clap_dir.value(), "clap-text"));
    auto x = encode_cached(captions, cache, "CLAP text", [&](const std::vector<size_t>& idx) {
      std::vector<std::string> b;
      for (size_t i : idx) b.push_back(captions[i]);
      return clap_text.value()->embed_texts(b);
    });
    if (!x.ok()) return fail(x.error().message, 1);
    auto t = clip_texts(captions);
    if (!t.ok()) return fail(t.error().message, 1);
    bridge.in = static_cast<int>(x->front().size()), bridge.out = static_cast<int>(t->front().size());
    for (size_t i = 0; i < captions.size(); ++i) {
      bridge.x.insert(bridge.x.end(), (*x)[i].begin(), (*x)[i].end());
      bridge.t.insert(bridge.t.end(), (*t)[i].begin(), (*t)[i].end());
    }
    bridge.n = static_cast<int64_t>(captions.size());
  }
  if (use_audio) {
    auto clap = ClapModel::load(clap_dir.value());
    if (!clap.ok()) return fail(clap.error().message, 1);
    const VectorCache cache(cache_dir, model_cache_key(clap_dir.value(), "clap-audio-windows"));
    std::vector<std::string> keys;
    for (const auto& p : pairs) keys.push_back(file_cache_key(p.path));
    auto x = encode_cached(keys, cache, "CLAP audio", [&](const std::vector<size_t>& idx) -> Result<Embeddings> {
      std::vector<Audio> clips;
      for (size_t i : idx) {
        auto a = decode_audio_file(pairs[i].path);
        if (!a.ok()) return a.error().context(pairs_file + ": pair " + std::to_string(i + 1));
        clips.push_back(std::move(a).value());
      }
      return clap.value()->embed_audio(clips, {});
    });
    if (!x.ok()) return fail(x.error().message, 1);
    std::vector<std::string> texts;
    for (size_t i = 0; i < pairs.size(); ++i)
      for (const auto& c : pairs[i].captions) {
        texts.push_back(c);
        audio.group.push_back(static_cast<int>(i));
      }
    auto t = clip_texts(texts);
    if (!t.ok()) return fail(t.error().message, 1);
    audio.in = static_cast<int>(x->front().size()), audio.out = static_cast<int>(t->front().size());
    for (size_t k = 0; k < texts.size(); ++k) {
      const auto& xv = (*x)[audio.group[k]];
      audio.x.insert(audio.x.end(), xv.begin(), xv.end());
      audio.t.insert(audio.t.end(), (*t)[k].begin(), (*t)[k].end());
    }
    audio.n = static_cast<int64_t>(texts.size());
  }

  std::unique_ptr<ProgressBar> bar;
  auto trained = train_projection(bridge, audio, opts, [&](const std::string& stage, int done, int total) {
    if (!bar) bar = std::make_unique<ProgressBar>("training (4 candidates)", total);
    bar->update(done);
  });
  bar.reset();
  if (!trained.ok()) return fail(trained.error().message, 1);
  const TrainResult& r = trained.value();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Outputs, only now.
  const std::string out = args->get("out");
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return fail(out + ": " + ec.message(), 1);
  std::vector<NamedTensor> tensors;
  tensors.push_back({"weight", {r.projection.out, r.projection.in}, std::vector<float>(r.projection.w.begin(), r.projection.w.end())});
  if (r.projection.bias) tensors.push_back({"bias", {r.projection.out}, std::vector<float>(r.projection.b.begin(), r.projection.b.end())});
  nlohmann::json meta = {
      {"clip_model", args->get("clip")},
      {"clap_model", args->get("clap")},
      {"data", data_files},
      {"mode", opts.mode},
      {"hyperparameters", {{"epochs", opts.epochs}, {"batch", opts.batch}, {"lr", opts.lr}, {"temperature", opts.temperature},
                           {"val_fraction", opts.val_fraction}, {"bridge_weight", opts.bridge_weight}, {"optimizer", "Adam"}}},
      {"seed", opts.seed},
      {"epochs_run", r.epochs},
      {"chosen", {{"init", r.init}, {"bias", r.projection.bias}}},
      {"candidates", r.candidates},
      {"final_train_loss", r.train_loss},
      {"held_out", metrics_json(r.validation)},
      {"held_out_identity", metrics_json(r.identity)},
      {"pairs", {{"text_bridge", bridge.n}, {"audio_caption", audio.n}}},
      {"wall_time_s", seconds},
  };
  if (auto st = write_safetensors(join_path(out, "projection.safetensors"), tensors, {{"format", "pt"}}); !st.ok())
    return fail(st.error().message, 1);
  auto clap_audio = ClapModel::load(clap_dir.value());  // its audio_projection goes into the ONNX file
  if (!clap_audio.ok()) return fail(clap_audio.error().message, 1);
  if (auto st = write_audio_projection_onnx(join_path(out, "audio_projection.onnx"),
                                            clap_audio.value()->tower().projection(), r.projection);
      !st.ok())
    return fail(st.error().message, 1);
  const std::string m = meta.dump(2) + "\n";
  if (auto st = write_file_atomic(join_path(out, "projection_training_metadata.json"), m.data(), m.size()); !st.ok())
    return fail(st.error().message, 1);

  std::printf("mode %s: %lld text-bridge pairs, %lld audio-caption pairs; kept %s start, bias %s (%.1f s)\n",
              opts.mode.c_str(), static_cast<long long>(bridge.n), static_cast<long long>(audio.n), r.init.c_str(),
              r.projection.bias ? "on" : "off", seconds);
  std::printf("%-10s %10s %10s %12s %12s\n", "held out", "loss", "cosine", "R@1 text->x", "R@1 x->text");
  for (const auto& [name, e] : {std::pair{"trained", r.validation}, std::pair{"identity", r.identity}})
    std::printf("%-10s %10.4f %10.4f %12.3f %12.3f\n", name, e.loss, e.cosine, e.from_text.r1, e.to_text.r1);
  std::printf("wrote %s/projection.safetensors, audio_projection.onnx and projection_training_metadata.json\n", out.c_str());
  return 0;
}

}  // namespace cc
