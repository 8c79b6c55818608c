// `clipclap pack`: writes a model's pack file for a precision (core/packed_weights.h).
#pragma once

#include <string>

#include "core/packed_weights.h"

namespace cc {

// fp32: every linear weight of model.safetensors in the GEMM's blocked layout. bf16 and int8:
// the weights loading the model at that precision makes (int8's smoothing needs each layer's
// input norm, which only the towers know), so the model is loaded so and they are written out.
Result<PackedSummary> pack_model(const std::string& dir, Precision precision);

}  // namespace cc
