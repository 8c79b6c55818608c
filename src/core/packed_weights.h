// Packed weights: a checkpoint's linear weights repacked once, by `clipclap pack`, into the
// layout the GEMM reads fastest (kPackedLayout in core/gemm.h) and saved beside it as
// "model.packed.safetensors". Loading maps that file as it maps the checkpoint, so nothing is
// copied at load and the packing is paid once, not per process.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "core/safetensors.h"

namespace cc {

// A model directory's packed weights, beside its model.safetensors; pull and push leave them out.
constexpr const char* kPackedWeightsFile = "model.packed.safetensors";
// ".../model.safetensors" -> ".../model.packed.safetensors"
std::string packed_weights_path(const std::string& weights_path);

struct PackedSummary {
  int tensors = 0;
  size_t bytes = 0;
};

// Packs every 2-D float weight named "*.weight" that is not an embedding table (those are
// looked up by row, not multiplied). Written atomically: a failure leaves no file.
Result<PackedSummary> write_packed_weights(const std::string& weights_path);

// Gives `weights` (opened from `weights.path()` with these prefixes) its packed copy when
// one lies beside it and this machine's GEMM prefers the packed layout. A packed file made
// from another version of the checkpoint, or a broken one, is an error that says what to do.
Status attach_packed_weights(SafeTensors& weights, const std::vector<std::string>& prefixes);

}  // namespace cc
