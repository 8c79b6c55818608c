// The trained map from CLAP's space into CLIP's, as served: y = normalize(W·x + b).
// W comes from a bundle's model.safetensors ("audio_to_clip.weight", ".bias") or from
// train-projection's projection.safetensors ("weight", "bias"); it is read in place.
#pragma once

#include <string>

#include "core/embeddings.h"
#include "core/gemm.h"
#include "core/safetensors.h"

namespace cc {

class AudioToClip {
 public:
  // `prefix` is "audio_to_clip." in a bundle and "" in projection.safetensors.
  static Result<AudioToClip> load(const std::string& safetensors_path, const std::string& prefix);

  Result<Embeddings> apply(const Embeddings& clap_vectors) const;
  int in() const { return linear_.in; }
  int out() const { return linear_.out; }

 private:
  SafeTensors weights_;
  Linear linear_;
};

}  // namespace cc
