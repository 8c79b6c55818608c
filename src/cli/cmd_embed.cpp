// clipclap embed: every input is read and checked before any is embedded, so a bad input
// fails the command with a message naming it, and no partial output is written.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/file.h"
#include "core/kernels.h"
#include "core/threads.h"
#include "audio/decode_audio.h"
#include "model/clap_model.h"
#include "model/clip_model.h"
#include "model/model_kind.h"
#include "train/projection.h"
#include "vision/decode_image.h"

namespace cc {

namespace {

const std::vector<Flag> kFlags = {
    {"model", "DIR", "model directory: a Hugging Face CLIP checkpoint (text, images) or CLAP checkpoint (audio) with config.json, model.safetensors and preprocessor_config.json"},
    {"text", "TEXT", "a text to embed (CLIP)", "", true},
    {"image", "PATH", "an image file to embed (CLIP): JPEG, PNG, GIF, WebP, BMP", "", true},
    {"audio", "PATH", "an audio file to embed (CLAP): WAV, FLAC, OGG Vorbis, Opus, MP3", "", true},
    {"long-audio", "MODE", "audio longer than the model's window (10 s): windows (average of windows every --window-hop seconds, the last aligned to the end), first, center, or fusion (fused checkpoints: whole clip shrunk + front/middle/back chunks at fixed positions)", "windows"},
    {"window-hop", "SECONDS", "hop between windows in --long-audio windows", "10"},
    {"max-audio-seconds", "N", "refuse longer audio", "600"},
    {"projection", "DIR", "a trained projection (train-projection --out): audio vectors are mapped into CLIP's space and renormalised"},
    {"batch", "N", "inputs of one modality per forward pass", "8"},
    {"threads", "N", "threads for inference (0 = all cores)", "0"},
    {"max-pixels", "N", "refuse images with more pixels than this", "89478485"},
    {"output", "PATH", "write the JSON lines to PATH (atomically) instead of stdout"},
    {"help", "", "show this text"},
};

struct Input {
  std::string modality;  // "text", "image" or "audio"
  std::string value;     // the text, or the file path
  std::vector<int32_t> ids;
  Image image;
  Audio audio;
};

void append_json_line(std::string& out, size_t index, const std::string& modality, const float* v, int dim) {
  char buf[48];
  out += "{\"index\":" + std::to_string(index) + ",\"modality\":\"" + modality + "\",\"dim\":" + std::to_string(dim) +
         ",\"embedding\":[";
  for (int i = 0; i < dim; ++i) {
    std::snprintf(buf, sizeof buf, i ? ",%.9g" : "%.9g", v[i]);  // 9 significant digits round-trip float32
    out += buf;
  }
  out += "]}\n";
}

void progress(size_t done, size_t total) {
  if (total < 16 || !isatty(STDERR_FILENO)) return;
  std::fprintf(stderr, "\rembedding %zu/%zu", done, total);
  if (done == total) std::fputc('\n', stderr);
}

}  // namespace

int cmd_embed(int argc, char** argv) {
  const std::string synopsis = "clipclap embed --model DIR [--text TEXT]... [--image PATH]... [--audio PATH]... [options]";
  const std::string description =
      "Embeds each input into the model's shared space and prints one JSON object per input, in the order\n"
      "given: {\"index\", \"modality\", \"dim\", \"embedding\"}. Vectors are L2-normalised.";
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap embed: %s\n", message.c_str());
    return code;
  };
  auto args = Args::parse(kFlags, argc, argv);
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage(synopsis, description, kFlags).c_str(), stdout);
    return 0;
  }
  auto batch = args->get_int("batch", 8, 1, 4096);
  auto threads = args->get_int("threads", 0, 0, 1024);
  auto max_pixels = args->get_int("max-pixels", 89'478'485, 1, 2'000'000'000);
  auto max_audio = args->get_int("max-audio-seconds", 600, 1, 86'400);
  auto long_audio = parse_long_audio(args->get("long-audio", "windows"));
  auto hop = args->get_double("window-hop", 10, 0.01, 86'400);
  for (const Error* e : {batch.ok() ? nullptr : &batch.error(), threads.ok() ? nullptr : &threads.error(),
                         max_pixels.ok() ? nullptr : &max_pixels.error(), max_audio.ok() ? nullptr : &max_audio.error(),
                         long_audio.ok() ? nullptr : &long_audio.error(), hop.ok() ? nullptr : &hop.error()}) {
    if (e) return fail(e->message, 2);
  }
  if (!args->has("model")) return fail("--model DIR is required", 2);
  std::vector<Input> inputs;
  for (const auto& [name, value] : args->in_order())
    if (name == "text" || name == "image" || name == "audio") inputs.push_back({name, value, {}, {}, {}});
  if (inputs.empty()) return fail("nothing to embed (give --text, --image or --audio)", 2);
  set_num_threads(threads.value());

  const std::string dir = args->get("model");
  auto kind = detect_model_kind(dir);
  if (!kind.ok()) return fail(kind.error().message, 1);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const bool fits = kind.value() == ModelKind::kClip ? inputs[i].modality != "audio" : inputs[i].modality == "audio";
    if (!fits)
      return fail("input " + std::to_string(i) + " (--" + inputs[i].modality + "): model " + dir + " is a " +
                      model_kind_name(kind.value()) + " checkpoint, which embeds " +
                      (kind.value() == ModelKind::kClip ? "text and images" : "audio (CLAP's text tower is not supported yet)"),
                  1);
  }
  LongAudioOptions audio_opts;
  audio_opts.mode = long_audio.value();
  audio_opts.hop_seconds = hop.value();
  std::unique_ptr<ClipModel> clip;
  std::unique_ptr<ClapModel> clap;
  if (kind.value() == ModelKind::kClip) {
    auto loaded = ClipModel::load(dir);
    if (!loaded.ok()) return fail(loaded.error().message, 1);
    clip = std::move(loaded).value();
  } else {
    auto loaded = ClapModel::load(dir);
    if (!loaded.ok()) return fail(loaded.error().message, 1);
    clap = std::move(loaded).value();
    if (auto st = clap->check(audio_opts); !st.ok()) return fail(st.error().message, 1);  // before decoding anything
  }
  Projection projection;
  const bool project = args->has("projection");
  if (project) {
    if (!clap) return fail("--projection applies to audio, which needs a CLAP checkpoint", 2);
    auto p = load_projection(args->get("projection"));
    if (!p.ok()) return fail(p.error().message, 1);
    if (p->in != clap->dim()) return fail("--projection takes " + std::to_string(p->in) + "-d vectors; " + dir + " gives " + std::to_string(clap->dim()), 1);
    projection = std::move(p).value();
  }

  // Read and check every input first.
  int failures = 0;
  ImageLimits limits;
  limits.max_pixels = max_pixels.value();
  AudioLimits audio_limits;
  audio_limits.max_seconds = max_audio.value();
  for (size_t i = 0; i < inputs.size(); ++i) {
    Input& in = inputs[i];
    auto bad = [&](const Error& e) { failures += fail("input " + std::to_string(i) + " (--" + in.modality + "): " + e.message, 1); };
    if (in.modality == "text") {
      auto ids = clip->tokenize(in.value);
      if (ids.ok()) in.ids = std::move(ids).value();
      else bad(ids.error());
    } else if (in.modality == "audio") {
      auto a = decode_audio_file(in.value, audio_limits);
      if (a.ok()) in.audio = std::move(a).value();
      else bad(a.error());
    } else {
      auto img = decode_image_file(in.value, limits);
      if (img.ok()) in.image = std::move(img).value();
      else bad(img.error());
    }
  }
  if (failures) return 1;

  // Embed each modality in batches, then print in input order.
  std::vector<std::vector<float>> vectors(inputs.size());
  size_t done = 0;
  for (const std::string modality : {"text", "image", "audio"}) {
    std::vector<size_t> group;
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].modality == modality) group.push_back(i);
    for (size_t start = 0; start < group.size(); start += batch.value()) {
      const size_t end = std::min(group.size(), start + static_cast<size_t>(batch.value()));
      Result<Embeddings> e = Embeddings{};
      if (modality == "text") {
        std::vector<std::vector<int32_t>> ids;
        for (size_t k = start; k < end; ++k) ids.push_back(inputs[group[k]].ids);
        e = clip->embed_token_ids(ids);
      } else if (modality == "image") {
        std::vector<Image> images;
        for (size_t k = start; k < end; ++k) images.push_back(std::move(inputs[group[k]].image));
        e = clip->embed_images(images);
      } else {
        std::vector<Audio> clips;
        for (size_t k = start; k < end; ++k) clips.push_back(std::move(inputs[group[k]].audio));
        e = clap->embed_audio(clips, audio_opts);
        if (e.ok() && project) {  // into CLIP's space: W·v + b, then L2
          std::vector<double> v(e->values.begin(), e->values.end()), y;
          projection.apply(v, e->count, y);
          e->dim = projection.out;
          e->values.assign(y.begin(), y.end());
          l2_normalize_rows(e->values.data(), e->count, e->dim);
        }
      }
      if (!e.ok()) return fail(e.error().message, 1);
      for (size_t k = start; k < end; ++k)
        vectors[group[k]].assign(e->row(k - start), e->row(k - start) + e->dim);
      done += end - start;
      progress(done, inputs.size());
    }
  }

  std::string out;
  for (size_t i = 0; i < inputs.size(); ++i)
    append_json_line(out, i, inputs[i].modality, vectors[i].data(), static_cast<int>(vectors[i].size()));
  if (args->has("output")) {
    auto st = write_file_atomic(args->get("output"), out.data(), out.size());
    if (!st.ok()) return fail(st.error().message, 1);
  } else {
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

}  // namespace cc
