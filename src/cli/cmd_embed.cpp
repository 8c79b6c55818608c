// clipclap embed: every input is read and checked before any is embedded, so a bad input
// fails the command with a message naming it, and no partial output is written. With
// --manifest, the bulk job of bulk/embed_manifest.h instead.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bulk/embed_manifest.h"
#include "bundle/resolve_model.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/embeddings.h"
#include "core/file.h"
#include "core/flags.h"
#include "core/threads.h"
#include "model/batch_embed.h"
#include "model/video_embed.h"

namespace cc {

namespace {

const std::vector<Flag> kEmbedFlags = {
    {"model", "DIR|org/name", "model: a clipclap bundle (text, images, audio), a Hugging Face CLIP checkpoint (text, images) or CLAP checkpoint (audio, text in CLAP's space); a directory, or a hub repository (taken from the Hugging Face cache, pulled if absent)"},
    {"text", "TEXT", "a text to embed (CLIP)", "", true},
    {"image", "PATH", "an image file to embed (CLIP): JPEG, PNG, GIF, WebP, BMP", "", true},
    {"audio", "PATH", "an audio file to embed (CLAP): WAV, FLAC, OGG Vorbis, Opus, MP3, M4A/AAC, MP4, WebM, Matroska (a video's soundtrack)", "", true},
    {"video", "PATH", "a video to embed (MP4/MOV, WebM, Matroska): frames every 1/--video-fps s through CLIP, the soundtrack in segments through CLAP, one pooled vector; its line also has \"segments\" [{start, end, image, audio}]", "", true},
    {"video-fps", "N", "frames sampled per second of video (the frame shown at 0, 1/N, 2/N, ... s)", "1"},
    {"video-segment", "SECONDS", "length of a video's segments: each gets the mean of its frames' vectors and its soundtrack's vector", "10"},
    {"video-audio-weight", "W", "weight of the soundtrack in a video's pooled vector: normalise((1-W) * mean frame + W * mean soundtrack), each mean normalised", "0.5"},
    {"video-frames", "", "also print each sampled frame's vector in a video's line (\"frames\": [{time, frame_time, embedding}])"},
    {"max-video-seconds", "N", "refuse longer videos", "600"},
    {"max-video-frames", "N", "refuse videos that would give more sampled frames", "3600"},
    {"long-audio", "MODE", "audio longer than the model's window (10 s): windows (average of windows every --window-hop seconds, the last aligned to the end), first, center, or fusion (fused checkpoints: whole clip shrunk + front/middle/back chunks at fixed positions)", "windows"},
    {"window-hop", "SECONDS", "hop between windows in --long-audio windows", "10"},
    {"max-audio-seconds", "N", "refuse longer audio", "600"},
    {"projection", "DIR", "with a CLAP model: a trained projection (train-projection --out); audio vectors are mapped into CLIP's space and renormalised"},
    {"batch", "N", "inputs of one modality per forward pass", "8"},
    {"threads", "N", "threads for inference (0 = all cores)", "0"},
    {"max-pixels", "N", "refuse images with more pixels than this", "89478485"},
    precision_flag(),
    {"output", "PATH", "write the JSON lines to PATH (atomically) instead of stdout; with --manifest, .jsonl or .npy"},
    {"manifest", "FILE", "embed every file a manifest names (.jsonl {\"path\", \"modality\"?: image, audio or video, else sniffed} or .csv with a path column; paths relative to it) into --output, resumably: rows {\"path\", \"modality\", \"embedding\", \"error\"}; a rerun goes on where a killed run stopped"},
    {"shard", "I/N", "with --manifest: only rows I, I+N, I+2N, ... (one of N parallel jobs)", "0/1"},
    {"help", "", "show this text"},
};

void append_json_line(std::string& out, size_t index, const std::string& modality, const std::vector<float>& v, const std::string& more = "") {
  out += "{\"index\":" + std::to_string(index) + ",\"modality\":\"" + modality + "\",\"dim\":" + std::to_string(v.size()) +
         ",\"embedding\":";
  append_json_floats(out, v.data(), v.size());
  out += more + "}\n";
}


// --manifest: the rows of a shard into --output, resumably (bulk/embed_manifest.h).
int embed_manifest(const Embedder& model, const Args& args, const PrepareOptions& prepare, int batch) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap embed: %s\n", message.c_str());
    return code;
  };
  ManifestJob job;
  job.manifest = args.get("manifest"), job.output = args.get("output"), job.batch = batch, job.prepare = prepare;
  if (auto st = parse_shard(args.value("shard"), job.shard, job.shards); !st.ok()) return fail(st.error().message, 2);
  std::unique_ptr<ProgressBar> bar;
  auto result = run_manifest_job(model, job, [&](const ManifestProgress& p) {
    if (!bar) bar = std::make_unique<ProgressBar>("embedding " + job.manifest, static_cast<int64_t>(p.rows - p.skipped));
    bar->update(static_cast<int64_t>(p.done), std::to_string(p.errors) + (p.errors == 1 ? " error" : " errors"));
  });
  bar.reset();
  if (!result.ok()) return fail(result.error().message, 1);
  const ManifestProgress& p = result.value();
  if (p.complete) {
    std::fprintf(stderr, "%s is complete (%zu rows of shard %d/%d); nothing to do\n", job.output.c_str(), p.rows, job.shard, job.shards);
    return 0;
  }
  std::fprintf(stderr, "%zu files in %.1f s (%.1f files/s): %zu embedded, %zu errors%s -> %s\n", p.done, p.seconds,
               p.seconds > 0 ? p.done / p.seconds : 0.0, p.done - p.errors, p.errors,
               p.skipped ? (", " + std::to_string(p.skipped) + " written by an earlier run").c_str() : "", job.output.c_str());
  return 0;
}

}  // namespace

int cmd_embed(int argc, char** argv) {
  const std::string synopsis = "clipclap embed --model DIR|org/name [--text TEXT]... [--image PATH]... [--audio PATH]... [--video PATH]... [options]";
  const std::string description =
      "Embeds each input into the model's shared space and prints one JSON object per input, in the order\n"
      "given: {\"index\", \"modality\", \"dim\", \"embedding\"}. Vectors are L2-normalised.";
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap embed: %s\n", message.c_str());
    return code;
  };
  auto args = Args::parse(kEmbedFlags, argc, argv);
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage(synopsis, description, kEmbedFlags).c_str(), stdout);
    return 0;
  }
  auto batch = args->get_int("batch", 1, 4096);
  auto threads = args->get_int("threads", 0, 1024);
  auto max_pixels = args->get_int("max-pixels", 1, 2'000'000'000);
  auto max_audio = args->get_int("max-audio-seconds", 1, 86'400);
  auto long_audio = parse_long_audio(args->value("long-audio"));
  auto hop = args->get_double("window-hop", 0.01, 86'400);
  auto video_fps = args->get_double("video-fps", 0.001, 120);
  auto video_segment = args->get_double("video-segment", 0.1, 86'400);
  auto video_audio_weight = args->get_double("video-audio-weight", 0, 1);
  auto max_video = args->get_double("max-video-seconds", 1, 86'400);
  auto max_video_frames = args->get_int("max-video-frames", 1, 1'000'000);
  for (const Error* e : {batch.ok() ? nullptr : &batch.error(), threads.ok() ? nullptr : &threads.error(),
                         max_pixels.ok() ? nullptr : &max_pixels.error(), max_audio.ok() ? nullptr : &max_audio.error(),
                         long_audio.ok() ? nullptr : &long_audio.error(), hop.ok() ? nullptr : &hop.error(),
                         video_fps.ok() ? nullptr : &video_fps.error(), video_segment.ok() ? nullptr : &video_segment.error(),
                         video_audio_weight.ok() ? nullptr : &video_audio_weight.error(), max_video.ok() ? nullptr : &max_video.error(),
                         max_video_frames.ok() ? nullptr : &max_video_frames.error()}) {
    if (e) return fail(e->message, 2);
  }
  if (!args->has("model")) return fail("--model DIR is required", 2);
  std::vector<std::pair<std::string, std::string>> inputs;  // --text/--image/--audio/--video and its value, in order
  for (const auto& [name, value] : args->in_order())
    if (name == "text" || name == "image" || name == "audio" || name == "video") inputs.emplace_back(name, value);
  const bool manifest = args->has("manifest");
  if (manifest && !inputs.empty()) return fail("--manifest embeds its files; give no --text, --image, --audio or --video with it", 2);
  if (manifest && !args->has("output")) return fail("--manifest needs --output OUT.jsonl|OUT.npy", 2);
  if (!manifest && args->has("shard")) return fail("--shard goes with --manifest", 2);
  if (inputs.empty() && !manifest) return fail("nothing to embed (give --text, --image, --audio, --video or --manifest)", 2);
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
  if (const std::string kept = model.fp32_layers_summary(); !kept.empty())  // README "Precision": the accuracy guard
    std::fprintf(stderr, "clipclap embed: %s: %s\n", precision_name(precision.value()), kept.c_str());
  if (args->has("projection"))
    if (auto st = model.attach_projection(args->get("projection")); !st.ok()) return fail(st.error().message, 1);
  PrepareOptions prepare;
  prepare.image.max_pixels = max_pixels.value();
  prepare.audio.max_seconds = max_audio.value();
  prepare.long_audio = audio_opts;
  prepare.video.fps = video_fps.value();
  prepare.video.segment_seconds = video_segment.value();
  prepare.video.audio_weight = video_audio_weight.value();
  prepare.video.threads = threads.value() > 0 ? threads.value() : num_threads();
  prepare.video.limits.max_seconds = max_video.value();
  prepare.video.limits.max_frames = max_video_frames.value();
  if (manifest) return embed_manifest(model, args.value(), prepare, batch.value());

  const Capabilities caps = model.info().caps;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string& m = inputs[i].first;
    if ((m == "text" && !caps.text) || (m == "image" && !caps.image) || (m == "audio" && !caps.audio) ||
        (m == "video" && !caps.image && !caps.audio))
      return fail("input " + std::to_string(i) + " (--" + m + "): model " + dir.value() + " is a " +
                      model_kind_name(model.info().kind) + " model, which embeds " + capabilities_string(caps) +
                      (model.info().kind == ModelKind::kClap && m == "text" ? " (with --projection, audio only)" : ""),
                  1);
    if (m == "audio")
      if (auto st = model.check_audio_options(audio_opts); !st.ok()) return fail(st.error().message, 1);  // before decoding
  }

  // Read and check every input first, several at a time (decoding and resampling are serial
  // inside; README "Bulk embedding from the command line"), then report failures in input
  // order. A video's frames and soundtrack segments go after the other inputs, and are
  // combined again once embedded.
  std::vector<Result<PreparedItem>> prepared(inputs.size(), Result<PreparedItem>(error("not prepared", ErrorKind::kInternal)));
  for_each_item(inputs.size(), [&](size_t i) {
    const std::string& m = inputs[i].first;  // not a structured binding: clang 14 cannot capture those
    const std::string& value = inputs[i].second;
    prepared[i] = [&]() -> Result<PreparedItem> {
      if (m == "text") {
        CC_TRY(PreparedInput in, prepare_text(model, value));
        return PreparedItem(std::move(in));
      }
      CC_TRY(std::vector<uint8_t> bytes, read_file(value));
      const Modality modality = m == "image" ? Modality::kImage : m == "audio" ? Modality::kAudio : Modality::kVideo;
      auto item = prepare_file(model, modality, bytes.data(), bytes.size(), prepare);
      if (!item.ok()) return item.error().context(value);
      return item;
    }();
  });
  int failures = 0;
  CallInputs call(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (prepared[i].ok()) call.add(i, std::move(prepared[i]).value());
    else failures += fail("input " + std::to_string(i) + " (--" + inputs[i].first + "): " + prepared[i].error().message, 1);
  }
  if (failures) return 1;
  std::vector<PreparedInput> items = call.take_tower_inputs();

  const auto towers_start = std::chrono::steady_clock::now();
  std::unique_ptr<ProgressBar> bar;
  if (items.size() >= 16) bar = std::make_unique<ProgressBar>("embedding", static_cast<int64_t>(items.size()));
  auto vectors = embed_prepared(model, items, batch.value(), [&](size_t done) {
    if (bar) bar->update(static_cast<int64_t>(done));
  });
  bar.reset();
  if (!vectors.ok()) return fail(vectors.error().message, 1);

  const double towers_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - towers_start).count();
  // Where a video's time went: decoding (FFmpeg and RGB), preparing (pixel_values, log-mel), and
  // the towers (for every input of this call).
  for (const auto& [i, v] : call.videos())
    std::fprintf(stderr, "video %zu (%s): %zu frames sampled of %d decoded, %zu segments; decoding %.3f s, preparing %.3f s; towers %.3f s\n",
                 i, inputs[i].second.c_str(), v.frames.size(), v.info.frames_decoded, v.segments.size(), v.decode_seconds, v.prepare_seconds,
                 towers_seconds);
  auto embedded = call.item_vectors(vectors.value(), prepare.video.audio_weight);
  if (!embedded.ok()) return fail(embedded.error().message, 1);
  std::vector<std::string> video_json(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    if (embedded->videos[i]) append_video_json(video_json[i], *embedded->videos[i], args->has("video-frames"));
  const std::vector<std::vector<float>>& embedding = embedded->vectors;
  std::string out;
  for (size_t i = 0; i < inputs.size(); ++i) append_json_line(out, i, inputs[i].first, embedding[i], video_json[i]);
  if (args->has("output")) {
    auto st = write_file_atomic(args->get("output"), out.data(), out.size());
    if (!st.ok()) return fail(st.error().message, 1);
  } else {
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

}  // namespace cc
