// audio_projection.onnx for the existing Go server: input [batch, hidden] (CLAP's pooled audio
// features) -> CLAP's audio_projection (Linear, ReLU, Linear) -> L2 -> trained W (+ b) ->
// output [batch, dim], not normalised (the server normalises). Opset 14, as the other files.
#pragma once

#include <string>

#include "core/gemm.h"
#include "core/result.h"
#include "train/projection.h"

namespace cc {

Status write_audio_projection_onnx(const std::string& path, const Linear& clap_linear1, const Linear& clap_linear2,
                                   const Projection& trained);

}  // namespace cc
