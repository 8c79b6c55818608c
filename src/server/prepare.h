// One input item made ready for its tower, on the request's thread (so decoding and
// preprocessing overlap with inference): text -> token ids, image -> pixel_values,
// audio -> log-mel windows. Undecodable media is a 400 naming the item.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "audio/decode_audio.h"
#include "model/embedder.h"
#include "server/api.h"
#include "vision/image.h"

namespace cc {

struct Prepared {
  Modality modality = Modality::kText;
  std::vector<int32_t> ids;
  std::vector<float> pixels;
  ClipFeatures audio;
};

struct PrepareLimits {
  ImageLimits image;
  AudioLimits audio;
  LongAudioOptions long_audio;
  std::vector<std::string> fetch_hosts;  // http(s) media from these hosts only (and their subdomains)
  uint64_t max_fetch_bytes = 32 << 20;
  long fetch_timeout_s = 20;
};

std::optional<ApiError> prepare_item(const Embedder& model, InputItem& item, const std::string& param, bool truncate,
                                     const PrepareLimits& limits, Prepared* out);

}  // namespace cc
