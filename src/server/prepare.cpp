#include "server/prepare.h"

namespace cc {

namespace {

// Budget and internal failures keep their kind (503, 413, 500), as do unsupported codecs (422);
// anything else is undecodable.
ApiError media_error(const Error& e, const std::string& param, Modality modality) {
  if (e.kind == ErrorKind::kInvalidInput) return bad_request(param + ": undecodable " + modality_name(modality) + ": " + e.message, param);
  return api_error(e.context(param), param);
}

}  // namespace

std::optional<ApiError> prepare_item(const Embedder& model, const InputItem& item, const std::string& param, bool truncate,
                                     const PrepareLimits& limits, PreparedInput* out) {
  if (item.modality == Modality::kText) {
    auto in = prepare_text(model, item.text, truncate);
    if (!in.ok()) return api_error(in.error().context(param), param);
    *out = std::move(in).value();
    return std::nullopt;
  }
  auto in = prepare_encoded(model, item.modality, item.bytes.data(), item.bytes.size(), limits);
  if (!in.ok()) return media_error(in.error(), param, item.modality);
  *out = std::move(in).value();
  return std::nullopt;
}

std::optional<ApiError> prepare_video_item(const Embedder& model, const InputItem& item, const std::string& param,
                                           const PrepareLimits& limits, PreparedVideo* out) {
  auto v = prepare_video(model, item.bytes.data(), item.bytes.size(), limits);
  if (!v.ok()) return media_error(v.error(), param, Modality::kVideo);
  *out = std::move(v).value();
  return std::nullopt;
}

}  // namespace cc
