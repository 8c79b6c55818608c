// The server's request model: what a client asked for, after JSON parsing and before any
// decoding, and the errors it can get back ({"error": {"message", "type", "param"}}, or
// {"error": "message"} on the routes of clients that read that shape).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/memory_budget.h"
#include "core/result.h"
#include "model/batch_embed.h"

namespace cc {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the request field at fault, when there is one
};

inline ApiError bad_request(std::string message, std::string param = "") {
  return {400, std::move(message), "invalid_request_error", std::move(param)};
}

// The answer an engine error gets, chosen by its kind: invalid input 400, not found 404,
// unsupported 422, too large 413, overloaded 503, internal 500.
ApiError api_error(const Error& e, std::string param = "");

// A client's string echoed in a message: at most 256 characters.
std::string echo(std::string_view s);

struct InputItem {
  Modality modality = Modality::kText;
  std::string text;            // kText
  std::vector<uint8_t> bytes;  // kImage / kAudio / kVideo: the encoded file
  std::string fetch_url;       // http(s) media, fetched later (only with --allow-fetch)
  MemoryBudget::Hold fetched;  // the fetched bytes' share of the budget
  std::string where;           // the request field it came from, as errors name it: "input", "input[2]", "images[0]"
};

// The request shapes: POST /api/embed (the Go server's), POST /v1/embeddings (OpenAI's), POST
// /ai/v1/embed (antfly's "antfly" provider: OpenAI's, with images and audio both as image_url
// parts) and POST /vectorize (Weaviate's multi2vec-bind and multi2vec-clip modules).
enum class Api { kOllama, kOpenAI, kAntfly, kWeaviate };

struct EmbedRequest {
  std::string model;  // empty: the only model, if there is exactly one
  std::vector<InputItem> items;
  bool truncate = true;               // false: texts over the limit are an error
  bool base64 = false;                // OpenAI encoding_format "base64"
  std::optional<int64_t> dimensions;  // OpenAI: must equal the model's
  bool video_segments = false;        // a video's data item also gets its segments (model/video_embed.h)
};

struct ParseLimits {
  size_t max_items = 2048;  // LangChain's OpenAIEmbeddings sends 1,000 per request
  bool allow_fetch = false;
};

// Parses a request body. `input` is a string, a list of strings, or a list of content parts:
//   {"type":"text","text":…}  {"type":"image_url","image_url":{"url":…}}  {"type":"audio_url","audio_url":{"url":…}}
//   {"type":"input_audio","input_audio":{"data":<base64>,"format":"wav|mp3|flac|ogg|opus|m4a|aac|mp4|webm|mkv"}}
//   {"type":"video_url","video_url":{"url":…}}  {"type":"input_video","input_video":{"data":<base64>,"format":"mp4|mov|webm|mkv"}}
//   {"type":"media","data":<base64>,"mime_type":…}
// URLs are data: URIs, or http(s) when fetching is enabled; a data: URI's media type decides
// the modality (antfly sends audio as image_url). Weaviate's body has lists instead of `input`:
//   {"texts": [...], "images": [<base64>...], "audio": [<base64>...], "video": [<base64>...]}
// (imu, thermal, depth: refused, 422), its media bare base64 whose format is sniffed from the
// decoded bytes. "video_segments": true asks for each video's segments beside its pooled vector
// (OpenAI's and antfly's shapes). The body is read as a stream of
// JSON events, never as a whole document (whose nodes would cost many times its bytes): each
// item is taken as it ends and its media decoded at once, their bytes added to `memory`.
std::optional<ApiError> parse_embed_request(std::string_view body, Api api, const ParseLimits& limits, EmbedRequest* out,
                                            MemoryBudget::Hold* memory = nullptr);

// How an answer's vectors are written: JSON numbers, OpenAI's base64 of little-endian float32,
// or /api/embed's binary layout (uint64 count, uint64 dim, then float32 little-endian vectors).
enum class ResponseEncoding { kJson, kBase64, kBinary };

// The body of a successful answer: the Go server's {"model", "embeddings"} or OpenAI's list
// (with `usage` counting `tokens`; antfly reads it too), or the binary layout, whose header
// gives the model's `dim` even when there are no vectors. `extras[i]`, when given, goes into
// OpenAI's data item i after its embedding (a video's segments).
std::string embeddings_body(Api api, ResponseEncoding encoding, const std::string& model, int dim,
                            const std::vector<std::vector<float>>& vectors, size_t tokens, const std::vector<std::string>& extras = {});

// Weaviate's answer: {"textVectors": [...], "imageVectors": [...], "audioVectors": [...], "videoVectors": [...]}, each
// in the order of its request list; `modalities[i]` is the modality of `vectors[i]`.
std::string vectorize_body(const std::vector<Modality>& modalities, const std::vector<std::vector<float>>& vectors);

}  // namespace cc
