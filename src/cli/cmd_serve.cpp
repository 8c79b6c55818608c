// clipclap serve: loads models (discovered under --models-dir, or named with --model) and runs
// the embedding server until SIGTERM (see server/server.h).
#include <cstdio>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "bundle/discover.h"
#include "bundle/resolve_model.h"
#include "core/flags.h"
#include "cli/commands.h"
#include "core/gemm.h"
#include "core/threads.h"
#include "server/fetch.h"
#include "server/server.h"

namespace cc {

namespace {

const std::vector<Flag> kServeFlags = {
    {"models-dir", "DIR", "serve every model found under DIR (as `clipclap models` lists them)"},
    {"model", "NAME|DIR|org/name", "serve this model: a name found under --models-dir, a directory, or a hub repository (from the HF cache, pulled if absent); with --model, only the named models are served", "", true},
    {"host", "ADDR", "address to listen on", "127.0.0.1"},
    {"port", "N", "port (0: any free port; the chosen one is printed)", "8080"},
    {"threads", "N", "inference threads (0 = all cores); one batch runs at a time, so this is the whole budget", "0"},
    {"api-key", "KEY", "require 'Authorization: Bearer KEY' (or X-API-Key) on /api and /v1 routes, checked before the body is read (or set CLIPCLAP_API_KEY)"},
    {"metrics-key", "KEY", "require this key (or the API key) on /metrics; without it /metrics is open (or set CLIPCLAP_METRICS_KEY)"},
    {"max-batch", "N", "items per inference batch", "32"},
    {"max-batch-tokens", "N", "a text batch holds at most N tokens, counted as its longest text × its texts (padding included); a longer text goes alone", "1024"},
    {"max-wait-ms", "MS", "how long the first item of a batch waits for others (up to 100 ms more while requests that have arrived are still being parsed or prepared)", "5"},
    {"max-queue", "N", "items waiting across all models; more get 503 with Retry-After", "1024"},
    {"max-items", "N", "items per request (LangChain's OpenAIEmbeddings sends 1,000)", "2048"},
    {"max-body-mb", "N", "request body limit, after chunked decoding (413 beyond); compressed bodies are refused (415)", "64"},
    {"max-inflight-mb", "N", "memory all requests may hold at once: bodies, decoded media, decoders' canvases, tensors waiting for a batch, responses (503 with Retry-After beyond; 413 for one request that could never fit)", "192"},
    {"timeout-s", "N", "per-request deadline (504 beyond); its queued items are dropped", "60"},
    {"max-connections", "N", "client connections open at once; more are answered 503 and closed", "1024"},
    {"header-timeout-s", "N", "time for a request line and headers to arrive, from their first byte (408 beyond)", "10"},
    {"body-timeout-s", "N", "time for each part of a body to arrive: a body that stops moving is dropped (408)", "10"},
    {"idle-timeout-s", "N", "how long an idle keep-alive connection stays open", "5"},
    {"max-pixels", "N", "refuse larger images (decompression bombs)", "89478485"},
    {"max-audio-seconds", "N", "refuse longer audio", "600"},
    {"long-audio", "MODE", "audio longer than the model's window: windows, first, center or fusion (as embed)", "windows"},
    {"video-fps", "N", "frames sampled per second of a video (as embed)", "1"},
    {"video-segment", "SECONDS", "length of a video's segments (as embed)", "10"},
    {"video-audio-weight", "W", "weight of the soundtrack in a video's pooled vector (as embed)", "0.5"},
    {"max-video-seconds", "N", "refuse longer videos (413)", "600"},
    {"max-video-frames", "N", "refuse videos that would give more sampled frames (413); each frame's tensor (600 KB for ViT-B/32) counts against --max-inflight-mb", "3600"},
    {"precision", "P|NAME=P", "fp32 (exact), bf16 or int8 (faster; README \"Precision\"), for every model, or NAME=P for one model (by its served name)", "fp32", true},
    {"no-pack", "", "fp32 models without a pack file read their mapped weights in place instead of packing them in memory at load (less RSS, slower short texts on AVX-512)"},
    {"allow-fetch", "HOSTS", "fetch http(s) image_url/audio_url media from these comma-separated entries: names (and their subdomains, at public addresses), IP addresses and CIDR ranges (internal addresses only this way; localhost allows loopback); off by default"},
    {"fetch-timeout-s", "N", "time limit of one fetch, resolving included", "20"},
    {"max-fetch-mb", "N", "size limit of one fetched file", "32"},
    {"fetch-threads", "N", "URLs fetched at once (a slow origin holds one of these, never a preparation thread)", "8"},
    {"http-threads", "N", "threads for network I/O (connections are events on these, not threads of their own)", "1"},
    {"weaviate-model", "NAME", "the model answering Weaviate's POST /vectorize and GET /meta (multi2vec-bind, multi2vec-clip); needed when more than one model is served", "the only model"},
    {"help", "", "show this text"},
};

}  // namespace

int cmd_serve(int argc, char** argv) {
  block_shutdown_signals();  // before model loading starts any thread
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap serve: %s\n", message.c_str());
    return code;
  };
  auto args = Args::parse(kServeFlags, argc, argv);
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage("clipclap serve [--models-dir DIR] [--model NAME|DIR|org/name]... [options]",
                     "Serves text, image and audio embeddings over HTTP:\n"
                     "  POST /api/embed       {\"model\", \"input\"} -> {\"model\", \"embeddings\"}; Accept: application/octet-stream\n"
                     "                        gives uint64 count, uint64 dim, then float32 little-endian vectors\n"
                     "  POST /v1/embeddings   OpenAI-compatible (encoding_format float|base64, usage); also POST /embeddings\n"
                     "  POST /ai/v1/embed     antfly's embedder: OpenAI's shape, errors as {\"error\": \"message\"}\n"
                     "  POST /vectorize       Weaviate's multi2vec-bind/-clip: {\"texts\",\"images\",\"audio\",\"video\"} (bare base64)\n"
                     "                        -> {\"textVectors\",\"imageVectors\",\"audioVectors\",\"videoVectors\"}; GET /meta, /.well-known/live|ready\n"
                     "  GET  /v1/models /api/models /healthz /readyz /metrics\n"
                     "input: a string, a list of strings, or content parts: {\"type\":\"text\",\"text\"}, {\"type\":\"image_url\",\n"
                     "\"image_url\":{\"url\":\"data:image/png;base64,...\"}}, {\"type\":\"audio_url\",...}, {\"type\":\"input_audio\",\n"
                     "\"input_audio\":{\"data\",\"format\"}}, {\"type\":\"video_url\",...}, {\"type\":\"input_video\",\"input_video\":{\"data\",\"format\"}},\n"
                     "{\"type\":\"media\",\"data\",\"mime_type\"}. A video's vector is its pooled one; \"video_segments\": true adds its\n"
                     "\"segments\" [{start, end, image, audio}] to its data item.\n"
                     "Items of concurrent requests are batched per model and modality. SIGTERM drains and exits 0.",
                     kServeFlags).c_str(),
               stdout);
    return 0;
  }
  ServerOptions o;
  std::vector<Error> bad;
  auto number = [&](const char* name, int min, int max) {
    auto v = args->get_int(name, min, max);
    if (!v.ok()) bad.push_back(v.error());
    return v.ok() ? v.value() : min;
  };
  const int port = number("port", 0, 65535), threads = number("threads", 0, 1024);
  o.batching.max_batch = number("max-batch", 1, 4096);
  o.batching.max_batch_tokens = number("max-batch-tokens", 1, 1 << 24);
  o.batching.max_wait = std::chrono::milliseconds(number("max-wait-ms", 0, 600000));
  o.batching.max_queue = static_cast<size_t>(number("max-queue", 1, 10'000'000));
  o.parse.max_items = static_cast<size_t>(number("max-items", 1, 100000));
  o.weaviate_model = args->get("weaviate-model");
  o.http.max_body_bytes = static_cast<size_t>(number("max-body-mb", 1, 4096)) << 20;
  o.max_inflight_bytes = static_cast<size_t>(number("max-inflight-mb", 16, 1 << 20)) << 20;
  o.timeout_s = number("timeout-s", 1, 86400);
  o.http.max_connections = static_cast<size_t>(number("max-connections", 1, 1 << 20));
  o.http.header_timeout = std::chrono::seconds(number("header-timeout-s", 1, 3600));
  o.http.body_timeout = std::chrono::seconds(number("body-timeout-s", 1, 3600));
  o.http.idle_timeout = std::chrono::seconds(number("idle-timeout-s", 1, 3600));
  o.prepare.image.max_pixels = number("max-pixels", 1, 2'000'000'000);
  o.prepare.audio.max_seconds = number("max-audio-seconds", 1, 86400);
  o.prepare.video.limits.max_seconds = number("max-video-seconds", 1, 86400);
  o.prepare.video.limits.max_frames = number("max-video-frames", 1, 1'000'000);
  for (auto [name, min, max, field] : {std::tuple{"video-fps", 0.001, 120.0, &o.prepare.video.fps},
                                       std::tuple{"video-segment", 0.1, 86400.0, &o.prepare.video.segment_seconds},
                                       std::tuple{"video-audio-weight", 0.0, 1.0, &o.prepare.video.audio_weight}}) {
    auto v = args->get_double(name, min, max);
    if (v.ok()) *field = v.value();
    else bad.push_back(v.error());
  }
  o.prepare.fetch.timeout = std::chrono::seconds(number("fetch-timeout-s", 1, 3600));
  o.prepare.fetch.max_bytes = static_cast<uint64_t>(number("max-fetch-mb", 1, 4096)) << 20;
  o.fetch_threads = number("fetch-threads", 1, 256);
  o.http_threads = number("http-threads", 1, 64);
  auto long_audio = parse_long_audio(args->value("long-audio"));
  if (!long_audio.ok()) bad.push_back(long_audio.error());
  if (!bad.empty()) return fail(bad.front().message, 2);
  o.host = args->value("host");
  o.port = port;
  o.api_key = args->get("api-key");
  if (o.api_key.empty() && std::getenv("CLIPCLAP_API_KEY")) o.api_key = std::getenv("CLIPCLAP_API_KEY");
  o.metrics_key = args->get("metrics-key");
  if (o.metrics_key.empty() && std::getenv("CLIPCLAP_METRICS_KEY")) o.metrics_key = std::getenv("CLIPCLAP_METRICS_KEY");
  o.prepare.long_audio.mode = long_audio.value();
  o.prepare.fetch.allow = args->get_list("allow-fetch");
  std::erase(o.prepare.fetch.allow, std::string());  // "a,,b" and a trailing comma
  for (const auto& entry : o.prepare.fetch.allow)
    if (auto st = check_allow_entry(entry); !st.ok()) return fail(st.error().message, 2);
  o.parse.allow_fetch = !o.prepare.fetch.allow.empty();
  if (!args->has("models-dir") && !args->has("model")) return fail("give --models-dir DIR or --model NAME|DIR|org/name", 2);
  set_num_threads(threads);

  // Which directories to load, under which names.
  std::vector<std::pair<std::string, std::string>> wanted;  // name, dir
  Discovery found;
  if (args->has("models-dir")) {
    auto d = discover_models(args->get("models-dir"));
    if (!d.ok()) return fail(d.error().message, 1);
    found = std::move(d).value();
    for (const auto& s : found.skipped) std::fprintf(stderr, "skipped %s: %s\n", s.dir.c_str(), s.reason.c_str());
  }
  if (args->has("model")) {
    for (const auto& spec : args->all("model")) {
      std::string dir, name = spec;
      for (const auto& m : found.models)
        if (m.name == spec || std::filesystem::path(m.info.dir).filename() == spec) dir = m.info.dir, name = m.name;
      if (dir.empty()) {
        auto resolved = resolve_model_arg(spec);
        if (!resolved.ok()) return fail(resolved.error().message, 1);
        dir = resolved.value();
        if (std::filesystem::is_directory(spec)) {  // a path: clients use its directory name
          auto p = std::filesystem::path(spec).lexically_normal();
          if (!p.has_filename()) p = p.parent_path();  // "dir/"
          name = p.filename().string();
        }
      }
      wanted.push_back({name, dir});
    }
  } else {
    for (const auto& m : found.models) wanted.push_back({m.name, m.info.dir});
  }

  // --precision P sets the default; NAME=P one model's (the last given wins)
  Precision default_precision = Precision::kFp32;
  std::map<std::string, Precision> model_precision;
  for (const std::string& spec : args->all("precision")) {
    const size_t eq = spec.find('=');
    auto p = parse_precision(eq == std::string::npos ? spec : spec.substr(eq + 1));
    if (!p.ok()) return fail("--precision " + spec + ": " + p.error().message, 2);
    if (eq == std::string::npos) default_precision = p.value();
    else model_precision[spec.substr(0, eq)] = p.value();
  }
  for (const auto& chosen : model_precision) {  // not a structured binding: the lambda captures it (clang < 16)
    const std::string& name = chosen.first;
    if (std::none_of(wanted.begin(), wanted.end(), [&](const auto& w) { return w.first == name; }))
      return fail("--precision " + name + "=" + precision_name(chosen.second) + ": no model named " + name + " is served", 2);
  }

  std::vector<ServedModel> models;
  for (const auto& [name, dir] : wanted) {
    WeightOptions weight_options;
    auto chosen = model_precision.find(name);
    weight_options.precision = chosen == model_precision.end() ? default_precision : chosen->second;
    weight_options.pack_at_load = !args->has("no-pack");
    const auto load_start = std::chrono::steady_clock::now();
    auto loaded = Embedder::load(dir, weight_options);
    const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
    if (!loaded.ok()) {
      if (args->has("model")) return fail(loaded.error().message, 1);
      std::fprintf(stderr, "skipped %s: %s\n", dir.c_str(), loaded.error().message.c_str());
      continue;
    }
    ServedModel m;
    m.name = name;
    const std::string base = std::filesystem::path(name).filename().string();
    if (base != name) m.aliases.push_back(base);
    m.model = std::move(loaded).value();
    const Precision precision = m.model->precision();
    std::string packed;
    if (m.model->packed_weight_bytes() > 0 && m.model->gemm_weights_mapped()) {
      packed = ", packed weights mapped";
    } else if (m.model->packed_weight_bytes() > 0) {
      packed = ", weights packed at load";
      // int8's calibration pass makes this take seconds on a full-size model; a pack file is mapped in ~0.1 s.
      if (precision != Precision::kFp32 && load_seconds >= 1.0) {
        char took[32];
        std::snprintf(took, sizeof took, " in %.1f s", load_seconds);
        packed += took + std::string(" (`clipclap pack --model ") + dir + " --precision " + precision_name(precision) +
                  "` once would map them instead)";
      }
    } else if (precision == Precision::kFp32 && gemm_prefers_packed_layout()) {
      packed = " (`clipclap pack --model " + dir + "` once would speed up short texts)";
    }
    if (precision == Precision::kBf16 && !bf16_gemm_native()) packed += " (this CPU has no bf16 GEMM: fp32 speed)";
    if (const std::string kept = m.model->fp32_layers_summary(); !kept.empty()) packed += "; " + kept;
    std::fprintf(stderr, "loaded %s (%s: %s, %d-d, %s) from %s%s\n", name.c_str(), model_kind_name(m.model->info().kind),
                 capabilities_string(m.model->info().caps).c_str(), m.model->dim(), precision_name(precision), dir.c_str(),
                 packed.c_str());
    models.push_back(std::move(m));
  }
  if (models.empty()) return fail("no model to serve", 1);
  if (!o.weaviate_model.empty() && std::none_of(models.begin(), models.end(), [&](const ServedModel& m) {
        return m.name == o.weaviate_model || std::find(m.aliases.begin(), m.aliases.end(), o.weaviate_model) != m.aliases.end();
      }))
    return fail("--weaviate-model " + o.weaviate_model + ": no model of that name is served", 2);
  return run_server(o, std::move(models));
}

}  // namespace cc
