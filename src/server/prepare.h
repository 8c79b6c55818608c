// One input item made ready for its tower on a preparation thread (so decoding and
// preprocessing overlap with inference): text -> token ids, image -> pixel_values,
// audio -> log-mel windows, video -> both for its frames and soundtrack. Undecodable media is a
// 400 naming the item. Media at http(s) URLs
// is fetched before this, on the fetch threads (server/fetch.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "audio/decode_audio.h"
#include "model/batch_embed.h"
#include "model/video_embed.h"
#include "server/api.h"
#include "server/fetch.h"
#include "vision/image.h"

namespace cc {

// The media limits (their budgets: decoders' working memory), and what may be fetched.
struct PrepareLimits : PrepareOptions {
  FetchPolicy fetch;
};

std::optional<ApiError> prepare_item(const Embedder& model, const InputItem& item, const std::string& param, bool truncate,
                                     const PrepareLimits& limits, PreparedInput* out);
// A video item: its frames and soundtrack segments, made ready as image and audio inputs.
std::optional<ApiError> prepare_video_item(const Embedder& model, const InputItem& item, const std::string& param,
                                           const PrepareLimits& limits, PreparedVideo* out);

}  // namespace cc
