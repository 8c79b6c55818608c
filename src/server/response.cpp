// The bodies of successful embedding answers: request.cpp reads what clients send, this writes
// what they get back.
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "core/embeddings.h"
#include "server/api.h"

namespace cc {

std::string embeddings_body(Api api, ResponseEncoding encoding, const std::string& model, int dim,
                            const std::vector<std::vector<float>>& vectors, size_t tokens, const std::vector<std::string>& extras) {
  const std::string model_json = nlohmann::json(model).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  if (encoding == ResponseEncoding::kBinary) {
    out.assign(16, '\0');
    const uint64_t count = vectors.size(), d = static_cast<uint64_t>(dim);
    std::memcpy(out.data(), &count, 8);  // little-endian on every platform this builds on
    std::memcpy(out.data() + 8, &d, 8);
    for (const auto& v : vectors) out.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  } else if (api == Api::kOllama) {
    out = "{\"model\":";
    out += model_json;
    out += ",\"embeddings\":[";
    for (size_t i = 0; i < vectors.size(); ++i) {
      if (i) out += ',';
      append_json_floats(out, vectors[i].data(), vectors[i].size());
    }
    out += "]}";
  } else {
    out = "{\"object\":\"list\",\"data\":[";
    for (size_t i = 0; i < vectors.size(); ++i) {
      out += i ? ",{\"object\":\"embedding\",\"index\":" : "{\"object\":\"embedding\",\"index\":";
      out += std::to_string(i);
      out += ",\"embedding\":";
      if (encoding == ResponseEncoding::kBase64) {
        out += '"';
        out += base64_encode(vectors[i].data(), vectors[i].size() * 4);
        out += '"';
      } else {
        append_json_floats(out, vectors[i].data(), vectors[i].size());
      }
      if (i < extras.size()) out += extras[i];
      out += '}';
    }
    // Appended piece by piece: a chain of `+` on temporaries costs copies (and gcc 12 warns on it).
    out += "],\"model\":";
    out += model_json;
    out += ",\"usage\":{\"prompt_tokens\":";
    out += std::to_string(tokens);
    out += ",\"total_tokens\":";
    out += std::to_string(tokens);
    out += "}}";
  }
  return out;
}

std::string vectorize_body(const std::vector<Modality>& modalities, const std::vector<std::vector<float>>& vectors) {
  std::string out = "{";
  for (auto [m, name] : {std::pair{Modality::kText, "textVectors"}, std::pair{Modality::kImage, "imageVectors"}, std::pair{Modality::kAudio, "audioVectors"},
                         std::pair{Modality::kVideo, "videoVectors"}}) {
    out += out.size() > 1 ? ",\"" : "\"";
    out += name;
    out += "\":[";
    bool first = true;
    for (size_t i = 0; i < vectors.size(); ++i) {
      if (modalities[i] != m) continue;
      if (!first) out += ',';
      first = false;
      append_json_floats(out, vectors[i].data(), vectors[i].size());
    }
    out += ']';
  }
  out += '}';
  return out;
}

}  // namespace cc
