// A small HTTPS client over libcurl for the Hugging Face hub: JSON calls, uploads, and
// downloads to a file that resume from where an earlier attempt stopped.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace cc {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent for POST/PUT unless upload_path is set
  std::string upload_path;           // PUT: a file region sent as the body
  uint64_t upload_offset = 0, upload_size = 0;
  std::string download_path;         // 2xx bodies are appended here (resumed from its size)
  std::function<void(uint64_t done_now)> on_progress;  // bytes moved in this request so far
  bool follow_redirects = true;
  uint64_t max_body_bytes = 0;       // > 0: a longer in-memory body is an error
  long timeout_s = 0;                // > 0: the whole transfer's limit
};

struct HttpResponse {
  long status = 0;
  std::string body;                           // error bodies too when downloading (first 64 KiB)
  std::map<std::string, std::string> headers; // names lower-cased, of the final response
};

// Transport failures (no network, refused, cut) are errors naming the host; HTTP error
// statuses are returned as responses for the caller to explain.
Result<HttpResponse> http_request(const HttpRequest& request);

// "a/b c.json" -> "a/b%20c.json": each path segment percent-encoded, slashes kept.
std::string url_encode_path(const std::string& path);

}  // namespace cc
