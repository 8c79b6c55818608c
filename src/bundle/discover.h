// Finding models under a directory, as `clipclap models` and `serve --models-dir` do. Each
// model directory is inspected by its weights and configs (model_kind.h); a broken one is
// reported with its reason and skipped, never stopping the others.
//   - any layout: DIR/name, DIR/owner/name, DIR/embedders/owner/name (the Go server's)
//   - the Hugging Face cache (DIR/models--org--name/snapshots/<commit>): named org/name
#pragma once

#include <string>
#include <vector>

#include "model/model_kind.h"

namespace cc {

struct FoundModel {
  std::string name;  // how clients address it: the path under DIR, or org/name for the HF cache
  ModelInfo info;
};

struct SkippedModel {
  std::string dir;
  std::string reason;
};

struct Discovery {
  std::vector<FoundModel> models;  // sorted by name
  std::vector<SkippedModel> skipped;
};

Result<Discovery> discover_models(const std::string& models_dir);

}  // namespace cc
