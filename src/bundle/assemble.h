// clipclap assemble: one bundle directory that embeds text, images and audio into CLIP's space.
//   clip_config.json   model_type "clipclap", projection_dim, text/vision/audio_config (the audio
//                      section carries CLAP's feature-extractor settings under "feature_extractor")
//   model.safetensors  CLIP text + vision towers and projections, CLAP audio tower and
//                      audio_projection, and the trained W as audio_to_clip.weight (+ .bias)
//   tokenizer.json, tokenizer_config.json, vocab.json, merges.txt, special_tokens_map.json,
//   preprocessor_config.json (CLIP's), audio_projection.onnx (the Go server's projector),
//   projection_training_metadata.json, README.md (model card with the metrics)
// CLAP's text tower is left out: serving never uses it.
#pragma once

#include <functional>
#include <string>

#include "core/result.h"

namespace cc {

struct AssembleOptions {
  std::string clip_dir, clap_dir, projection_dir;
  std::string clip_source, clap_source;  // as the user named them (org/name or path), for the card
  std::string eval_json_path;            // optional: `clipclap eval --json` output for the card
  bool overwrite = false;
  std::function<void(const std::string&)> log;
};

// Writes into "<out>.tmp-<pid>", loads the result back as a check, then renames it to `out`:
// a failure leaves nothing behind.
Status assemble_bundle(const AssembleOptions& opts, const std::string& out);

}  // namespace cc
