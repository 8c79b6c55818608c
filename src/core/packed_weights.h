// Pack files: a checkpoint's linear weights in the GEMM's form (core/gemm_weights.h), written
// once by `clipclap pack` beside it: "model.packed.safetensors" (fp32, in the layout the GEMM
// reads fastest, kPackedLayout in core/gemm.h), "model.packed-int8.safetensors",
// "model.packed-bf16.safetensors". Loading maps the file as it maps the checkpoint, so the
// packing is paid once, not per process, and processes share the pages. Without a file the
// same weights are made in memory at load.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/gemm_weights.h"
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

// How a model's weights are given to the GEMM when it loads.
struct WeightOptions {
  Precision precision = Precision::kFp32;
  // fp32 without a pack file: pack in memory at load where the GEMM prefers the packed layout
  // (costs load time and RSS, README "Precision"); false: read the mapped checkpoint in place.
  bool pack_at_load = true;
  bool read_pack_file = true;  // false: make the GEMM's weights anew even if a pack file exists
};

// The pack file of a precision other than fp32: "model.packed-int8.safetensors", ...
std::string gemm_weights_path(const std::string& weights_path, Precision precision);

// Gives `weights` (opened from `weights.path()` with these prefixes) what the GEMM reads: the
// pack file of the precision when one lies beside it, else the weights made in memory as the
// towers load (GemmWeights). fp32 on a machine whose GEMM does not prefer the packed layout
// (no AVX-512) reads the checkpoint as it is, and ignores the file.
// A pack file made from another version of the checkpoint, or a broken one, is an error that
// says what to do.
Status attach_packed_weights(SafeTensors& weights, const std::vector<std::string>& prefixes,
                             const WeightOptions& options = {});

// After the towers loaded: when the GEMM's weights were made in memory, what making them took
// is let go: the checkpoint pages read (MappedFile::release_pages), int8's calibration samples,
// and (bf16, int8) the heap pages the calibration passes freed.
void release_checkpoint_pages(const SafeTensors& weights);

// Writes the bf16 or int8 weights a loaded model made (GemmWeights::tensors of its towers)
// as the pack file of that precision, atomically, with the layers its accuracy guard kept in
// fp32 (GemmWeights::kept_fp32) named in the metadata.
// `stamp`: the checkpoint's file_stamp when the model was loaded; a checkpoint changed since is
// an error, and no file is written.
Status write_gemm_weights(const std::string& weights_path, Precision precision, const std::vector<TensorView>& tensors,
                          const std::set<std::string>& fp32_layers, const std::string& stamp);

}  // namespace cc
