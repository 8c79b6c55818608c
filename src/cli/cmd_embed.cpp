// clipclap embed: every input is read and checked before any is embedded, so a bad input
// fails the command with a message naming it, and no partial output is written.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/flags.h"
#include "cli/commands.h"
#include "core/file.h"
#include "core/threads.h"
#include "audio/decode_audio.h"
#include "bundle/resolve_model.h"
#include "model/embedder.h"
#include "vision/decode_image.h"

namespace cc {

namespace {

const std::vector<Flag> kFlags = {
    {"model", "DIR|org/name", "model: a clipclap bundle (text, images, audio), a Hugging Face CLIP checkpoint (text, images) or CLAP checkpoint (audio, text in CLAP's space); a directory, or a hub repository (taken from the Hugging Face cache, pulled if absent)"},
    {"text", "TEXT", "a text to embed (CLIP)", "", true},
    {"image", "PATH", "an image file to embed (CLIP): JPEG, PNG, GIF, WebP, BMP", "", true},
    {"audio", "PATH", "an audio file to embed (CLAP): WAV, FLAC, OGG Vorbis, Opus, MP3", "", true},
    {"long-audio", "MODE", "audio longer than the model's window (10 s): windows (average of windows every --window-hop seconds, the last aligned to the end), first, center, or fusion (fused checkpoints: whole clip shrunk + front/middle/back chunks at fixed positions)", "windows"},
    {"window-hop", "SECONDS", "hop between windows in --long-audio windows", "10"},
    {"max-audio-seconds", "N", "refuse longer audio", "600"},
    {"projection", "DIR", "with a CLAP model: a trained projection (train-projection --out); audio vectors are mapped into CLIP's space and renormalised"},
    {"batch", "N", "inputs of one modality per forward pass", "8"},
    {"threads", "N", "threads for inference (0 = all cores)", "0"},
    {"max-pixels", "N", "refuse images with more pixels than this", "89478485"},
    precision_flag(),
    {"output", "PATH", "write the JSON lines to PATH (atomically) instead of stdout"},
    {"help", "", "show this text"},
};

// One input, made ready for its tower as the server makes a request's items ready.
struct Input {
  std::string modality;  // "text", "image" or "audio"
  std::string value;     // the text, or the file path
  std::vector<int32_t> ids;
  std::vector<float> pixels;
  ClipFeatures audio;
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
  const std::string synopsis = "clipclap embed --model DIR|org/name [--text TEXT]... [--image PATH]... [--audio PATH]... [options]";
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
  auto batch = args->get_int("batch", 1, 4096);
  auto threads = args->get_int("threads", 0, 1024);
  auto max_pixels = args->get_int("max-pixels", 1, 2'000'000'000);
  auto max_audio = args->get_int("max-audio-seconds", 1, 86'400);
  auto long_audio = parse_long_audio(args->value("long-audio"));
  auto hop = args->get_double("window-hop", 0.01, 86'400);
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

  LongAudioOptions audio_opts;
  audio_opts.mode = long_audio.value();
  audio_opts.hop_seconds = hop.value();
  auto dir = resolve_model_arg(args->get("model"));
  if (!dir.ok()) return fail(dir.error().message, 1);
  auto precision = parse_precision(args->value("precision"));
  if (!precision.ok()) return fail(precision.error().message, 2);
  // A one-off call does not pack fp32 weights at load: packing ViT-B/32 costs 1-2.5 s and saves
  // a few ms per short text (README "Packed weights"). A pack file is still used.
  WeightOptions weight_options;
  weight_options.precision = precision.value();
  weight_options.pack_at_load = false;
  auto loaded = Embedder::load(dir.value(), weight_options);
  if (!loaded.ok()) return fail(loaded.error().message, 1);
  Embedder& model = *loaded.value();
  if (args->has("projection"))
    if (auto st = model.attach_projection(args->get("projection")); !st.ok()) return fail(st.error().message, 1);
  const Capabilities caps = model.info().caps;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string& m = inputs[i].modality;
    if ((m == "text" && !caps.text) || (m == "image" && !caps.image) || (m == "audio" && !caps.audio))
      return fail("input " + std::to_string(i) + " (--" + m + "): model " + dir.value() + " is a " +
                      model_kind_name(model.info().kind) + " model, which embeds " + capabilities_string(caps) +
                      (model.info().kind == ModelKind::kClap && m == "text" ? " (with --projection, audio only)" : ""),
                  1);
    if (m == "audio")
      if (auto st = model.check_audio_options(audio_opts); !st.ok()) return fail(st.error().message, 1);  // before decoding
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
      auto ids = model.tokenize(in.value);
      if (ids.ok()) in.ids = std::move(ids).value();
      else bad(ids.error());
    } else {
      auto bytes = read_file(in.value);
      if (!bytes.ok()) {
        bad(bytes.error());
      } else if (in.modality == "audio") {
        auto f = model.audio_features(bytes->data(), bytes->size(), audio_limits, audio_opts);
        if (f.ok()) in.audio = std::move(f).value();
        else bad(f.error().context(in.value));
      } else {
        auto p = model.pixel_values(bytes->data(), bytes->size(), limits);
        if (p.ok()) in.pixels = std::move(p).value();
        else bad(p.error().context(in.value));
      }
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
        e = model.embed_token_ids(ids);
      } else if (modality == "image") {
        std::vector<float> pixels;
        for (size_t k = start; k < end; ++k) pixels.insert(pixels.end(), inputs[group[k]].pixels.begin(), inputs[group[k]].pixels.end());
        e = model.embed_pixel_values(pixels, static_cast<int>(end - start));
      } else {
        std::vector<ClipFeatures> clips;
        for (size_t k = start; k < end; ++k) clips.push_back(std::move(inputs[group[k]].audio));
        e = model.embed_audio_features(clips);
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
