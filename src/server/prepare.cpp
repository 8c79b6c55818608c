#include "server/prepare.h"

namespace cc {

std::optional<ApiError> prepare_item(const Embedder& model, const InputItem& item, const std::string& param, bool truncate,
                                     const PrepareLimits& limits, PreparedInput* out) {
  if (item.modality == Modality::kText) {
    auto in = prepare_text(model, item.text, truncate);
    if (!in.ok()) return api_error(in.error().context(param), param);
    *out = std::move(in).value();
    return std::nullopt;
  }
  // Budget and internal failures keep their kind (503, 413, 500); anything else is undecodable.
  auto failed = [&](const Error& e, const char* what) {
    if (e.kind == ErrorKind::kInvalidInput) return bad_request(param + ": undecodable " + what + ": " + e.message, param);
    return api_error(e.context(param), param);
  };
  auto in = prepare_encoded(model, item.modality, item.bytes.data(), item.bytes.size(), limits);
  if (!in.ok()) return failed(in.error(), modality_name(item.modality));
  *out = std::move(in).value();
  return std::nullopt;
}

}  // namespace cc
