// What a model directory holds, decided by its weights and configs (never by file names alone):
// a clipclap bundle (CLIP text + vision, CLAP audio, and the trained audio->CLIP map), a CLIP
// checkpoint (text + vision) or a CLAP checkpoint (audio, and text in CLAP's own space).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace cc {

enum class ModelKind { kClipClap, kClip, kClap };

struct Capabilities {
  bool text = false, image = false, audio = false;
};

struct ModelInfo {
  std::string dir;
  ModelKind kind = ModelKind::kClip;
  Capabilities caps;
  int dim = 0;          // length of the vectors it returns
  uint64_t bytes = 0;   // size of the files in the directory
};

// The bundle keeps its config in clip_config.json (the Go server's name); checkpoints in config.json.
constexpr const char* kBundleConfig = "clip_config.json";

// Inspects DIR. The bundle is checked first because its weights also match CLIP and CLAP.
// Errors say why the directory is not a usable model.
Result<ModelInfo> inspect_model(const std::string& dir);

// clip_config.json when DIR is a bundle, else config.json.
Result<nlohmann::json> read_model_config(const std::string& dir);

const char* model_kind_name(ModelKind k);  // "clipclap", "clip", "clap"
std::string capabilities_string(const Capabilities& c);  // "text,image,audio"

// Tensor names that identify each part (HF's names, kept by the bundle).
namespace tensor_names {
constexpr const char* kClipText = "text_model.embeddings.token_embedding.weight";
constexpr const char* kClipTextProjection = "text_projection.weight";
constexpr const char* kClipVision = "vision_model.embeddings.patch_embedding.weight";
constexpr const char* kClipVisionProjection = "visual_projection.weight";
constexpr const char* kClapAudio = "audio_model.audio_encoder.patch_embed.proj.weight";
constexpr const char* kClapAudioProjection = "audio_projection.linear1.weight";
constexpr const char* kClapText = "text_model.embeddings.word_embeddings.weight";
constexpr const char* kClapTextProjection = "text_projection.linear1.weight";
constexpr const char* kAudioToClip = "audio_to_clip.weight";  // the trained W, [clip dim, clap dim]
}  // namespace tensor_names

}  // namespace cc
