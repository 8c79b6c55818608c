// clipclap serve: the HTTP server (cpp-httplib) in front of the batcher.
//   POST /api/embed        the Go server's shape: {"model", "input"} -> {"model", "embeddings"}
//                          (Accept: application/octet-stream -> uint64 count, uint64 dim, float32 LE)
//   POST /v1/embeddings    OpenAI-compatible (encoding_format float|base64, dimensions, usage)
//   GET  /v1/models, /api/models, /healthz, /readyz, /metrics (Prometheus)
// Each request is parsed, its media decoded and preprocessed on its own thread, its items
// queued for batching, and answered when its vectors are back, its deadline passes (504) or
// its client leaves (its queue places are freed). SIGTERM/SIGINT: stop accepting, finish the
// requests in flight, exit 0.
#pragma once

#include <signal.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/embedder.h"
#include "server/api.h"
#include "server/batcher.h"
#include "server/prepare.h"

namespace cc {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (printed)
  std::string api_key;  // empty: no authentication
  BatcherOptions batching;
  ParseLimits parse;
  PrepareLimits prepare;
  size_t max_body_bytes = 64u << 20;
  int timeout_s = 60;
  int http_threads = 64;  // connections served at once (each waits for its batch)
};

struct ServedModel {
  std::string name;                  // how clients address it
  std::vector<std::string> aliases;  // also accepted: directory name, org/name
  std::unique_ptr<Embedder> model;
};

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts later, so that
// only the server's waiting thread takes them. Call it before any thread exists.
sigset_t block_shutdown_signals();

// Runs until SIGTERM or SIGINT; returns the exit code.
int run_server(const ServerOptions& opts, std::vector<ServedModel> models);

}  // namespace cc
