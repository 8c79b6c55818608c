// What a --model argument names: a directory, or a hub repository ("org/name[@revision]")
// found in the Hugging Face cache, and pulled into it when absent.
#pragma once

#include <string>

#include "bundle/hub.h"

namespace cc {

Result<std::string> resolve_model_arg(const std::string& spec, const PullOptions& pull_options = {});

}  // namespace cc
