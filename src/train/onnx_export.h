// audio_projection.onnx for the existing Go server: input [batch, hidden] (CLAP's pooled audio
// features) -> CLAP's audio_projection (Linear, ReLU, Linear) -> L2 -> trained W (+ b) ->
// output [batch, dim], not normalised (the server normalises). Opset 14, as the other files.
#pragma once

#include <string>

#include "core/projection_head.h"
#include "core/result.h"
#include "train/projection.h"

namespace cc {

Status write_audio_projection_onnx(const std::string& path, const ProjectionHead& clap_head, const Projection& trained);

}  // namespace cc
