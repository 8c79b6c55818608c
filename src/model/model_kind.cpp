#include "model/model_kind.h"

#include "core/config.h"
#include "core/file.h"

namespace cc {

Result<ModelKind> detect_model_kind(const std::string& dir) {
  if (!is_directory(dir)) return error("model " + dir + ": not a directory");
  auto config = read_json(join_path(dir, "config.json"));
  if (!config.ok()) return config.error().context("model " + dir);
  auto type = config_string(config.value(), "model_type", "");
  if (!type.ok()) return type.error().context("model " + dir + ": config.json");
  if (type.value() == "clip") return ModelKind::kClip;
  if (type.value() == "clap") return ModelKind::kClap;
  return error("model " + dir + ": config.json model_type '" + type.value() + "' is neither 'clip' nor 'clap'");
}

const char* model_kind_name(ModelKind k) { return k == ModelKind::kClip ? "CLIP" : "CLAP"; }

}  // namespace cc
