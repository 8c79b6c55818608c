#include "model/audio_to_clip.h"

#include "core/kernels.h"

namespace cc {

Result<AudioToClip> AudioToClip::load(const std::string& path, const std::string& prefix) {
  AudioToClip p;
  CC_TRY(p.weights_, SafeTensors::open(path, {prefix}));
  CC_TRY(Tensor w, p.weights_.get(prefix + "weight"));
  if (w.shape.size() != 2) return error(path + ": '" + prefix + "weight' must be 2-D, not " + shape_string(w.shape));
  p.linear_ = Linear{w.data, nullptr, static_cast<int>(w.shape[1]), static_cast<int>(w.shape[0])};
  if (p.weights_.contains(prefix + "bias")) {
    CC_TRY(Tensor b, p.weights_.get(prefix + "bias", {p.linear_.out}));
    p.linear_.bias = b.data;
  }
  return p;
}

Result<Embeddings> AudioToClip::apply(const Embeddings& x) const {
  if (x.dim != linear_.in)
    return error("the audio projection takes " + std::to_string(linear_.in) + "-d vectors, not " + std::to_string(x.dim));
  Embeddings y;
  y.count = x.count;
  y.dim = linear_.out;
  y.values.resize(static_cast<size_t>(y.count) * y.dim);
  if (y.count == 0) return y;
  linear(linear_, x.values.data(), x.count, y.values.data());
  l2_normalize_rows(y.values.data(), y.count, y.dim);
  return y;
}

}  // namespace cc
