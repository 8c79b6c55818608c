// Which kind of checkpoint a directory holds: CLIP (text + images) or CLAP (audio).
#pragma once

#include <string>

#include "core/result.h"

namespace cc {

enum class ModelKind { kClip, kClap };

// From config.json's model_type ("clip" or "clap").
Result<ModelKind> detect_model_kind(const std::string& dir);
const char* model_kind_name(ModelKind k);

}  // namespace cc
