// clipclap serve: the HTTP routes (server/http_server.h underneath) in front of the batcher.
//   POST /api/embed        the Go server's shape: {"model", "input"} -> {"model", "embeddings"}
//                          (Accept: application/octet-stream -> uint64 count, uint64 dim, float32 LE)
//   POST /v1/embeddings    OpenAI-compatible (encoding_format float|base64, dimensions, usage);
//                          also POST /embeddings
//   POST /ai/v1/embed      antfly's provider: OpenAI's request and answer, {"error": "message"}
//   POST /vectorize        Weaviate's multi2vec-bind/-clip: {"texts", "images", "audio"} ->
//                          {"textVectors", "imageVectors", "audioVectors"}; GET /meta,
//                          /.well-known/live, /.well-known/ready
//   GET  /v1/models, /api/models, /healthz, /readyz, /metrics (Prometheus)
//   GET  /openapi.json     all of the above as an OpenAPI 3.1 document (src/server/web)
//   GET  /, /docs          the playground page, and the document rendered (src/server/web)
// A request's body is parsed, its media fetched (if it names URLs, on the fetch threads) and
// decoded and preprocessed on the preparation threads, its items queued for batching, and it
// is answered when its vectors are back, its deadline passes (504) or its client leaves (its
// queued items are dropped). Everything a request holds is counted in one memory budget
// (--max-inflight-mb): what does not fit is refused with 503, never allocated.
// SIGTERM/SIGINT: stop accepting, finish the requests in flight, exit 0.
#pragma once

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "model/embedder.h"
#include "server/api.h"
#include "server/batcher.h"
#include "server/http_server.h"
#include "server/prepare.h"

namespace cc {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (printed)
  std::string api_key;      // empty: no authentication
  std::string metrics_key;  // empty: /metrics is open (the API key is accepted there too)
  BatcherOptions batching;
  ParseLimits parse;
  PrepareLimits prepare;
  HttpLimits http;
  size_t max_inflight_bytes = 192u << 20;
  int timeout_s = 60;
  int http_threads = 1;   // I/O threads: connections are events, not threads
  int fetch_threads = 8;  // URLs fetched at once
  size_t max_fetches = 64;  // URLs being fetched or waiting to be; more get 503
  std::string weaviate_model;  // the model answering /vectorize; empty: the only one served
};

struct ServedModel {
  std::string name;                  // how clients address it
  std::vector<std::string> aliases;  // also accepted: directory name, org/name
  std::unique_ptr<Embedder> model;
};

// Every route the server answers, as (method, path).
std::vector<std::pair<std::string, std::string>> served_routes();

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts later, so that
// only the server's waiting thread takes them. Call it before any thread exists.
sigset_t block_shutdown_signals();

// Runs until SIGTERM or SIGINT; returns the exit code.
int run_server(const ServerOptions& opts, std::vector<ServedModel> models);

}  // namespace cc
