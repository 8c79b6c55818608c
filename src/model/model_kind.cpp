#include "model/model_kind.h"

#include <filesystem>

#include "core/config.h"
#include "core/file.h"
#include "core/safetensors.h"

namespace cc {

namespace {

uint64_t directory_bytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) total += e.file_size(ec);  // follows symlinks (HF cache snapshots)
  return total;
}

// Why a directory without model.safetensors cannot be served, naming the way out.
Error no_safetensors(const std::string& dir) {
  std::error_code ec;
  bool onnx = false;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".onnx") onnx = true;
  if (is_file(join_path(dir, "pytorch_model.bin")))
    return error("model " + dir + ": has only pytorch_model.bin; convert it to model.safetensors first "
                 "(transformers: from_pretrained(dir).save_pretrained(dir, safe_serialization=True))");
  if (onnx)
    return error("model " + dir + ": holds ONNX files only (an export for the Go server); this engine reads "
                 "model.safetensors: assemble the bundle from the safetensors checkpoints");
  return error("model " + dir + ": no model.safetensors");
}

}  // namespace

Result<nlohmann::json> read_model_config(const std::string& dir) {
  const std::string bundle = join_path(dir, kBundleConfig);
  if (is_file(bundle)) {
    auto j = read_json(bundle);
    if (!j.ok()) return j.error().context("model " + dir);
    if (j->is_object() && j->value("model_type", "") == "clipclap") return j;
  }
  auto j = read_json(join_path(dir, "config.json"));
  if (!j.ok()) return j.error().context("model " + dir);
  if (!j->is_object()) return error("model " + dir + ": config.json is not a JSON object");
  return j;
}

Result<ModelInfo> inspect_model(const std::string& dir) {
  if (!is_directory(dir)) return error("model " + dir + ": not a directory");
  const std::string weights_path = join_path(dir, "model.safetensors");
  if (!is_file(weights_path)) return no_safetensors(dir);
  auto weights = SafeTensors::open(weights_path);
  if (!weights.ok()) return weights.error().context("model " + dir);
  const SafeTensors& w = weights.value();
  namespace t = tensor_names;
  const bool clip_text = w.contains(t::kClipText) && w.contains(t::kClipTextProjection);
  const bool clip_vision = w.contains(t::kClipVision) && w.contains(t::kClipVisionProjection);
  const bool clap_audio = w.contains(t::kClapAudio) && w.contains(t::kClapAudioProjection);
  const bool clap_text = w.contains(t::kClapText) && w.contains(t::kClapTextProjection);
  const bool bridge = w.contains(t::kAudioToClip);

  CC_TRY(nlohmann::json config, read_model_config(dir));
  auto type = config_string(config, "model_type", "");
  if (!type.ok()) return type.error().context("model " + dir);
  auto says = [&](const std::string& what) {
    return error("model " + dir + ": config says model_type '" + type.value() + "' but " + what);
  };

  ModelInfo info;
  info.dir = dir;
  info.bytes = directory_bytes(dir);
  if (clip_text && clip_vision && clap_audio) {
    if (!bridge) return error("model " + dir + ": has CLIP and CLAP towers but no '" + std::string(t::kAudioToClip) +
                              "' (the trained audio projection); assemble it with clipclap assemble");
    if (type.value() != "clipclap") return says("the weights are a clipclap bundle (CLIP text + vision, CLAP audio)");
    info.kind = ModelKind::kClipClap;
    info.caps = {true, true, true};
  } else if (clip_text && clip_vision) {
    if (type.value() != "clip") return says("the weights hold CLIP's text and vision towers");
    info.kind = ModelKind::kClip;
    info.caps = {true, true, false};
  } else if (clap_audio) {
    if (type.value() != "clap") return says("the weights hold CLAP's audio tower");
    info.kind = ModelKind::kClap;
    info.caps = {clap_text, false, true};
  } else {
    return error("model " + dir + ": model.safetensors holds neither CLIP's text + vision towers nor CLAP's audio "
                 "tower (looked for " + t::kClipText + ", " + t::kClipVision + ", " + t::kClapAudio + ")");
  }
  CC_TRY(info.dim, config_int(config, "projection_dim", 512));
  return info;
}

const char* model_kind_name(ModelKind k) {
  switch (k) {
    case ModelKind::kClipClap: return "clipclap";
    case ModelKind::kClip: return "clip";
    case ModelKind::kClap: return "clap";
  }
  return "?";
}

std::string capabilities_string(const Capabilities& c) {
  std::string s;
  for (auto [on, name] : {std::pair{c.text, "text"}, std::pair{c.image, "image"}, std::pair{c.audio, "audio"}})
    if (on) {
      if (!s.empty()) s += ',';
      s += name;
    }
  return s;
}

}  // namespace cc
