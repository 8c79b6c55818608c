#include "server/prepare.h"

#include "bundle/http_client.h"
#include "vision/decode_image.h"

namespace cc {

namespace {

bool host_allowed(const std::string& url, const std::vector<std::string>& hosts) {
  const size_t start = url.find("://") + 3;
  std::string host = url.substr(start, url.find_first_of("/?#", start) - start);
  if (host.find('@') != std::string::npos) return false;  // no credentials in URLs
  host = host.substr(0, host.rfind(':') == std::string::npos || host.back() == ']' ? host.size() : host.rfind(':'));
  for (const auto& h : hosts)
    if (host == h || (host.size() > h.size() && host.compare(host.size() - h.size() - 1, h.size() + 1, "." + h) == 0)) return true;
  return false;
}

std::optional<ApiError> fetch(InputItem& item, const std::string& param, const PrepareLimits& limits) {
  if (!host_allowed(item.fetch_url, limits.fetch_hosts))
    return bad_request(param + ": the URL's host is not in this server's --allow-fetch list", param);
  HttpRequest req;
  req.url = item.fetch_url;
  req.follow_redirects = false;  // a redirect could leave the allowed hosts
  req.max_body_bytes = limits.max_fetch_bytes;
  req.timeout_s = limits.fetch_timeout_s;
  auto r = http_request(req);
  if (!r.ok()) return bad_request(param + ": fetching the URL failed: " + r.error().message, param);
  if (r->status != 200) return bad_request(param + ": fetching the URL gave HTTP " + std::to_string(r->status), param);
  item.bytes.assign(r->body.begin(), r->body.end());
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> prepare_item(const Embedder& model, InputItem& item, const std::string& param, bool truncate,
                                     const PrepareLimits& limits, Prepared* out) {
  out->modality = item.modality;
  if (item.modality == Modality::kText) {
    auto ids = model.tokenize(item.text, truncate);
    if (!ids.ok()) return bad_request(param + ": " + ids.error().message, param);
    out->ids = std::move(ids).value();
    return std::nullopt;
  }
  if (!item.fetch_url.empty())
    if (auto e = fetch(item, param, limits)) return e;
  if (item.modality == Modality::kImage) {
    auto pixels = model.pixel_values(item.bytes.data(), item.bytes.size(), limits.image);
    if (!pixels.ok()) return bad_request(param + ": undecodable image: " + pixels.error().message, param);
    out->pixels = std::move(pixels).value();
    return std::nullopt;
  }
  auto features = model.audio_features(item.bytes.data(), item.bytes.size(), limits.audio, limits.long_audio);
  if (!features.ok()) return bad_request(param + ": undecodable audio: " + features.error().message, param);
  out->audio = std::move(features).value();
  return std::nullopt;
}

}  // namespace cc
