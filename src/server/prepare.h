// One input item made ready for its tower on a preparation thread (so decoding and
// preprocessing overlap with inference): text -> token ids, image -> pixel_values,
// audio -> log-mel windows. Undecodable media is a 400 naming the item. Media at http(s) URLs
// is fetched before this, on the fetch threads (server/fetch.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "audio/decode_audio.h"
#include "model/embedder.h"
#include "server/api.h"
#include "server/fetch.h"
#include "vision/image.h"

namespace cc {

struct Prepared {
  Modality modality = Modality::kText;
  std::vector<int32_t> ids;
  std::vector<float> pixels;
  ClipFeatures audio;

  size_t bytes() const { return ids.capacity() * sizeof(int32_t) + pixels.capacity() * sizeof(float) + audio.mel.capacity() * sizeof(float); }
};

struct PrepareLimits {
  ImageLimits image;  // their budget: decoders' working memory
  AudioLimits audio;
  LongAudioOptions long_audio;
  FetchPolicy fetch;
};

std::optional<ApiError> prepare_item(const Embedder& model, const InputItem& item, const std::string& param, bool truncate,
                                     const PrepareLimits& limits, Prepared* out);

}  // namespace cc
