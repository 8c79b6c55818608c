#include "train/train_job.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/safetensors.h"
#include "core/sha256.h"
#include "model/clap_model.h"
#include "model/clap_text_model.h"
#include "model/clip_model.h"
#include "train/datasets.h"
#include "train/onnx_export.h"
#include "train/vector_cache.h"

namespace cc {

namespace {

// Encodes `items` with `encode` (batches of 32), through the cache. Each distinct key is
// encoded once and its vector shared by its repeats: a GEMM's rounding can depend on the batch
// around an input (oneDNN's AVX2 kernels block rows by batch size), and a repeat encoded in
// another batch would then differ by an ulp from the one vector the cache keeps.
template <class Encode>
Result<std::vector<std::vector<float>>> encode_cached(const std::vector<std::string>& keys, const VectorCache& cache,
                                                      const std::string& stage, const StageProgress& progress,
                                                      Encode encode) {
  std::vector<std::vector<float>> out(keys.size());
  std::vector<size_t> todo;
  std::map<std::string, size_t> first;  // key -> its first index
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!first.emplace(keys[i], i).second) continue;
    if (auto v = cache.get(keys[i])) out[i] = std::move(*v);
    else todo.push_back(i);
  }
  const auto total = static_cast<int64_t>(todo.size());
  if (progress) progress(stage, 0, total);
  for (size_t start = 0; start < todo.size(); start += 32) {
    const size_t end = std::min(todo.size(), start + 32);
    std::vector<size_t> batch(todo.begin() + start, todo.begin() + end);
    CC_TRY(Embeddings e, encode(batch));
    for (size_t k = 0; k < batch.size(); ++k) {
      out[batch[k]].assign(e.row(k), e.row(k) + e.dim);
      cache.put(keys[batch[k]], out[batch[k]]);
    }
    if (progress) progress(stage, static_cast<int64_t>(end), total);
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

void append_rows(std::vector<double>& to, const std::vector<float>& v) { to.insert(to.end(), v.begin(), v.end()); }

}  // namespace

const std::vector<Flag>& train_job_flags() {
  static const TrainOptions d;
  static const std::vector<Flag> flags = {
      {"clip", "DIR|org/name", "CLIP checkpoint (its text tower gives the targets)"},
      {"clap", "DIR|org/name", "CLAP checkpoint (its audio tower, and its text tower for the text bridge)"},
      {"out", "DIR", "where to write projection.safetensors, audio_projection.onnx and projection_training_metadata.json"},
      {"mode", "MODE", "text-bridge (CLAP text -> CLIP text, cosine loss), audio-caption (CLAP audio -> CLIP text, symmetric InfoNCE) or both; default: what the data allows"},
      {"captions", "FILE", "captions for the text bridge: .txt (one per line), COCO .json, .jsonl, or .csv with a caption column", "", true},
      {"pairs", "FILE", "audio-caption pairs: .csv or .jsonl with an audio path (relative to the file) and caption(s)"},
      {"epochs", "N", "training epochs", std::to_string(d.epochs)},
      {"batch", "N", "pairs per step", std::to_string(d.batch)},
      {"lr", "RATE", "Adam learning rate", "0.001"},
      {"temperature", "T", "InfoNCE temperature", "0.07"},
      {"val-fraction", "F", "share of the pairs held out for evaluation (between 0 and 1)", "0.1"},
      {"seed", "N", "seed of the split and the shuffles (same seed, same weights)", std::to_string(d.seed)},
      {"threads", "N", "threads for encoding and training (0 = all cores)", "0"},
      {"cache", "DIR", "where encoded vectors are kept between runs ('' disables)", "~/.cache/clipclap/vectors"},
  };
  return flags;
}

std::string default_vector_cache() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg) return std::string(xdg) + "/clipclap/vectors";
  return home ? std::string(home) + "/.cache/clipclap/vectors" : "";
}

Result<TrainJob> train_job_from_flags(const Args& args) {
  for (const char* required : {"clip", "clap", "out"})
    if (!args.has(required)) return error(std::string("--") + required + " DIR is required");
  TrainJob job;
  TrainOptions& o = job.train;
  CC_TRY(o.epochs, args.get_int("epochs", 1, 100000));
  CC_TRY(o.batch, args.get_int("batch", 2, 1 << 20));
  CC_TRY(o.lr, args.get_double("lr", 1e-9, 10));
  CC_TRY(o.temperature, args.get_double("temperature", 1e-4, 100));
  CC_TRY(o.val_fraction, args.get_double("val-fraction", 0, 1));
  CC_TRY(const int seed, args.get_int("seed", 0, 2'000'000'000));
  CC_TRY(job.threads, args.get_int("threads", 0, 1024));
  o.seed = static_cast<uint64_t>(seed);
  if (!(o.val_fraction > 0 && o.val_fraction < 1)) return error("--val-fraction must be between 0 and 1 (exclusive)");
  job.caption_files = args.all("captions");
  job.pairs_file = args.get("pairs");
  o.mode = args.get("mode", job.caption_files.empty() ? "audio-caption" : job.pairs_file.empty() ? "text-bridge" : "both");
  const bool bridge = o.mode == "text-bridge" || o.mode == "both", audio = o.mode == "audio-caption" || o.mode == "both";
  if (!bridge && !audio) return error("unknown --mode '" + o.mode + "' (text-bridge, audio-caption, both)");
  if (bridge && job.caption_files.empty()) return error("--mode " + o.mode + " needs --captions FILE");
  if (audio && job.pairs_file.empty()) return error("--mode " + o.mode + " needs --pairs FILE");
  job.clip_dir = job.clip_source = args.get("clip");
  job.clap_dir = job.clap_source = args.get("clap");
  job.out = args.get("out");
  job.cache_dir = args.has("cache") ? args.get("cache") : default_vector_cache();
  return job;
}

Result<TrainJobResult> run_train_job(const TrainJob& job, const StageProgress& progress) {
  const TrainOptions& opts = job.train;
  const bool use_bridge = opts.mode == "text-bridge" || opts.mode == "both";
  const bool use_audio = opts.mode == "audio-caption" || opts.mode == "both";
  const auto t0 = std::chrono::steady_clock::now();

  // Data first: a bad file fails before any model is loaded.
  std::vector<std::string> captions;
  nlohmann::json data_files = nlohmann::json::array();
  if (use_bridge)
    for (const auto& f : job.caption_files) {
      CC_TRY(auto c, read_captions(f));
      captions.insert(captions.end(), c.begin(), c.end());
      CC_TRY(const std::string digest, sha256_file(f));
      data_files.push_back({{"file", f}, {"role", "captions"}, {"sha256", digest}, {"items", c.size()}});
    }
  std::vector<CaptionedMedia> pairs;
  if (use_audio) {
    CC_TRY(pairs, read_pairs(job.pairs_file));
    CC_TRY(const std::string digest, sha256_file(job.pairs_file));
    data_files.push_back({{"file", job.pairs_file}, {"role", "pairs"}, {"sha256", digest}, {"items", pairs.size()}});
  }

  CC_TRY(auto clip, ClipModel::load(job.clip_dir));
  const VectorCache clip_cache(job.cache_dir, model_cache_key(job.clip_dir, "clip-text"));
  auto clip_texts = [&](const std::vector<std::string>& texts) {
    return encode_cached(texts, clip_cache, "CLIP text", progress, [&](const std::vector<size_t>& idx) {
      std::vector<std::string> b;
      for (size_t i : idx) b.push_back(texts[i]);
      return clip->embed_texts(b);
    });
  };

  PairedVectors bridge, audio;
  if (use_bridge) {
    CC_TRY(auto clap_text, ClapTextModel::load(job.clap_dir));
    const VectorCache cache(job.cache_dir, model_cache_key(job.clap_dir, "clap-text"));
    CC_TRY(auto x, encode_cached(captions, cache, "CLAP text", progress, [&](const std::vector<size_t>& idx) {
             std::vector<std::string> b;
             for (size_t i : idx) b.push_back(captions[i]);
             return clap_text->embed_texts(b);
           }));
    CC_TRY(auto t, clip_texts(captions));
    bridge.in = static_cast<int>(x.front().size()), bridge.out = static_cast<int>(t.front().size());
    for (size_t i = 0; i < captions.size(); ++i) append_rows(bridge.x, x[i]), append_rows(bridge.t, t[i]);
    bridge.n = static_cast<int64_t>(captions.size());
  }
  if (use_audio) {
    CC_TRY(auto clap, ClapModel::load(job.clap_dir));
    const VectorCache cache(job.cache_dir, model_cache_key(job.clap_dir, "clap-audio-windows"));
    std::vector<std::string> keys;
    for (const auto& p : pairs) keys.push_back(file_cache_key(p.path));
    CC_TRY(auto x, encode_cached(keys, cache, "CLAP audio", progress, [&](const std::vector<size_t>& idx) -> Result<Embeddings> {
             std::vector<Audio> clips;
             for (size_t i : idx) {
               auto a = decode_audio_file(pairs[i].path);
               if (!a.ok()) return a.error().context(job.pairs_file + ": pair " + std::to_string(i + 1));
               clips.push_back(std::move(a).value());
             }
             return clap->embed_audio(clips, {});
           }));
    std::vector<std::string> texts;
    for (size_t i = 0; i < pairs.size(); ++i)
      for (const auto& c : pairs[i].captions) {
        texts.push_back(c);
        audio.group.push_back(static_cast<int>(i));
      }
    CC_TRY(auto t, clip_texts(texts));
    audio.in = static_cast<int>(x.front().size()), audio.out = static_cast<int>(t.front().size());
    for (size_t k = 0; k < texts.size(); ++k) append_rows(audio.x, x[audio.group[k]]), append_rows(audio.t, t[k]);
    audio.n = static_cast<int64_t>(texts.size());
  }

  CC_TRY(TrainResult r, train_projection(bridge, audio, opts, [&](const std::string&, int done, int total) {
           if (progress) progress("training (4 candidates)", done, total);
         }));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Outputs, only now.
  std::error_code ec;
  std::filesystem::create_directories(job.out, ec);
  if (ec) return error(job.out + ": " + ec.message());
  std::vector<NamedTensor> tensors;
  tensors.push_back({"weight", {r.projection.out, r.projection.in}, std::vector<float>(r.projection.w.begin(), r.projection.w.end())});
  if (r.projection.bias) tensors.push_back({"bias", {r.projection.out}, std::vector<float>(r.projection.b.begin(), r.projection.b.end())});
  const nlohmann::json meta = {
      {"clip_model", job.clip_source},
      {"clap_model", job.clap_source},
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
  CC_CHECK(write_safetensors(join_path(job.out, "projection.safetensors"), tensors, {{"format", "pt"}}));
  CC_TRY(auto clap_audio, ClapModel::load(job.clap_dir));  // its audio_projection goes into the ONNX file
  CC_CHECK(write_audio_projection_onnx(join_path(job.out, "audio_projection.onnx"), clap_audio->tower().projection(), r.projection));
  const std::string m = meta.dump(2) + "\n";
  CC_CHECK(write_file_atomic(join_path(job.out, "projection_training_metadata.json"), m.data(), m.size()));
  return TrainJobResult{std::move(r), bridge.n, audio.n, seconds};
}

}  // namespace cc
