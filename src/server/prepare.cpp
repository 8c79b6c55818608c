#include "server/prepare.h"

namespace cc {

std::optional<ApiError> prepare_item(const Embedder& model, const InputItem& item, const std::string& param, bool truncate,
                                     const PrepareLimits& limits, Prepared* out) {
  out->modality = item.modality;
  if (item.modality == Modality::kText) {
    auto ids = model.tokenize(item.text, truncate);
    if (!ids.ok()) return api_error(ids.error().context(param), param);
    out->ids = std::move(ids).value();
    return std::nullopt;
  }
  // Budget and internal failures keep their kind (503, 413, 500); anything else is undecodable.
  auto failed = [&](const Error& e, const char* what) {
    if (e.kind == ErrorKind::kInvalidInput) return bad_request(param + ": undecodable " + what + ": " + e.message, param);
    return api_error(e.context(param), param);
  };
  if (item.modality == Modality::kImage) {
    auto pixels = model.pixel_values(item.bytes.data(), item.bytes.size(), limits.image);
    if (!pixels.ok()) return failed(pixels.error(), "image");
    out->pixels = std::move(pixels).value();
    return std::nullopt;
  }
  auto features = model.audio_features(item.bytes.data(), item.bytes.size(), limits.audio, limits.long_audio);
  if (!features.ok()) return failed(features.error(), "audio");
  out->audio = std::move(features).value();
  return std::nullopt;
}

}  // namespace cc
