#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "server/api.h"

namespace cc {

const char* modality_name(Modality m) {
  switch (m) {
    case Modality::kText: return "text";
    case Modality::kImage: return "image";
    case Modality::kAudio: return "audio";
  }
  return "?";
}

namespace {

using nlohmann::json;

std::optional<Modality> modality_of_mime(const std::string& mime) {
  if (mime.rfind("image/", 0) == 0) return Modality::kImage;
  if (mime.rfind("audio/", 0) == 0) return Modality::kAudio;
  if (mime == "application/ogg") return Modality::kAudio;
  return std::nullopt;
}

std::optional<ApiError> decode_base64_field(const std::string& data, const std::string& param, std::vector<uint8_t>* out) {
  auto bytes = base64_decode(data);
  if (!bytes.ok()) return bad_request(param + ": " + bytes.error().message, param);
  if (bytes->empty()) return bad_request(param + ": empty media", param);
  *out = std::move(bytes).value();
  return std::nullopt;
}

// A data: URI (RFC 2397) or an http(s) URL. `expected` is the modality the part type implies;
// a data: URI's media type must agree with it.
std::optional<ApiError> read_url(const json& url_field, Modality expected, const std::string& param, const ParseLimits& limits,
                                 InputItem* item) {
  std::string url;
  if (url_field.is_string()) url = url_field.get<std::string>();
  else if (url_field.is_object() && url_field.contains("url") && url_field["url"].is_string()) url = url_field["url"].get<std::string>();
  else return bad_request(param + " must be {\"url\": \"...\"}", param);
  item->modality = expected;
  if (url.rfind("data:", 0) == 0) {
    const size_t comma = url.find(',');
    if (comma == std::string::npos) return bad_request(param + ": a data: URI needs a comma before its data", param);
    const std::string meta = url.substr(5, comma - 5);
    const std::string mime = meta.substr(0, meta.find(';'));
    if (meta.size() < 7 || meta.compare(meta.size() - 7, 7, ";base64") != 0)
      return bad_request(param + ": only base64 data: URIs are accepted", param);
    if (!mime.empty()) {
      const auto m = modality_of_mime(mime);
      if (!m) return bad_request(param + ": unsupported content type '" + mime + "'", param);
      if (*m != expected) return bad_request(param + ": content type '" + mime + "' is not " + modality_name(expected), param);
    }
    return decode_base64_field(url.substr(comma + 1), param, &item->bytes);
  }
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    if (!limits.allow_fetch)
      return bad_request(param + ": fetching URLs is disabled on this server; send the media as a data: URI", param);
    item->fetch_url = url;
    return std::nullopt;
  }
  return bad_request(param + ": the URL must be a data: URI or http(s)", param);
}

std::optional<ApiError> read_part(const json& part, const std::string& param, const ParseLimits& limits, InputItem* item) {
  if (part.is_string()) {
    item->modality = Modality::kText;
    item->text = part.get<std::string>();
    if (item->text.empty()) return bad_request(param + " is an empty string", param);
    return std::nullopt;
  }
  if (part.is_number()) return bad_request(param + ": token-id input is not supported; send text", param);
  if (part.is_array()) return bad_request(param + ": nested lists (token ids) are not supported; send text", param);
  if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
    return bad_request(param + " must be a string or a content part with a \"type\"", param);
  const std::string type = part["type"].get<std::string>();
  if (type == "text") {
    if (!part.contains("text") || !part["text"].is_string()) return bad_request(param + ".text must be a string", param);
    item->modality = Modality::kText;
    item->text = part["text"].get<std::string>();
    if (item->text.empty()) return bad_request(param + ".text is empty", param);
    return std::nullopt;
  }
  if (type == "image_url") {
    if (!part.contains("image_url")) return bad_request(param + ".image_url is missing", param);
    return read_url(part["image_url"], Modality::kImage, param + ".image_url", limits, item);
  }
  if (type == "audio_url") {
    if (!part.contains("audio_url")) return bad_request(param + ".audio_url is missing", param);
    return read_url(part["audio_url"], Modality::kAudio, param + ".audio_url", limits, item);
  }
  if (type == "input_audio") {
    const json& a = part.contains("input_audio") ? part["input_audio"] : json();
    if (!a.is_object() || !a.contains("data") || !a["data"].is_string())
      return bad_request(param + ".input_audio must be {\"data\": <base64>, \"format\": ...}", param);
    const std::string format = a.value("format", "");
    if (!format.empty() && format != "wav" && format != "mp3" && format != "flac" && format != "ogg" && format != "opus")
      return bad_request(param + ".input_audio.format '" + format + "' is not one of wav, mp3, flac, ogg", param);
    item->modality = Modality::kAudio;
    return decode_base64_field(a["data"].get<std::string>(), param + ".input_audio.data", &item->bytes);
  }
  if (type == "media") {
    if (!part.contains("data") || !part["data"].is_string() || !part.contains("mime_type") || !part["mime_type"].is_string())
      return bad_request(param + " (media) needs \"data\" (base64) and \"mime_type\"", param);
    const std::string mime = part["mime_type"].get<std::string>();
    const auto m = modality_of_mime(mime);
    if (!m) return bad_request(param + ": unsupported content type '" + mime + "' (image/* or audio/*)", param);
    item->modality = *m;
    return decode_base64_field(part["data"].get<std::string>(), param + ".data", &item->bytes);
  }
  return bad_request(param + ": unknown content part type '" + type + "' (text, image_url, audio_url, input_audio, media)", param);
}

}  // namespace

std::optional<ApiError> parse_embed_request(const std::string& body, Api api, const ParseLimits& limits, EmbedRequest* out) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad_request("the body is not valid JSON");
  if (!j.is_object()) return bad_request("the body must be a JSON object");
  if (j.contains("model")) {
    if (!j["model"].is_string()) return bad_request("model must be a string", "model");
    out->model = j["model"].get<std::string>();
  }
  if (j.contains("truncate")) {
    if (!j["truncate"].is_boolean()) return bad_request("truncate must be true or false", "truncate");
    out->truncate = j["truncate"].get<bool>();
  }
  if (api == Api::kOpenAI) {
    if (j.contains("encoding_format")) {
      const json& f = j["encoding_format"];
      if (!f.is_string() || (f != "float" && f != "base64"))
        return bad_request("encoding_format must be \"float\" or \"base64\"", "encoding_format");
      out->base64 = f == "base64";
    }
    if (j.contains("dimensions") && !j["dimensions"].is_null()) {
      if (!j["dimensions"].is_number_integer()) return bad_request("dimensions must be an integer", "dimensions");
      out->dimensions = j["dimensions"].get<int64_t>();
    }
  }
  if (!j.contains("input")) return bad_request("input is required", "input");
  const json& input = j["input"];
  std::vector<const json*> parts;
  out->input_is_list = input.is_array();
  if (input.is_array()) {
    if (input.empty()) return bad_request("input is empty", "input");
    for (const auto& p : input) parts.push_back(&p);
  } else {
    parts.push_back(&input);
  }
  if (parts.size() > limits.max_items)
    return bad_request("input has " + std::to_string(parts.size()) + " items; this server takes at most " +
                           std::to_string(limits.max_items) + " per request",
                       "input");
  for (size_t i = 0; i < parts.size(); ++i) {
    InputItem item;
    const std::string param = input.is_array() ? "input[" + std::to_string(i) + "]" : "input";
    if (auto e = read_part(*parts[i], param, limits, &item)) return e;
    out->items.push_back(std::move(item));
  }
  return std::nullopt;
}

}  // namespace cc
