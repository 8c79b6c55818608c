// The HTTP/1.1 layer of `clipclap serve`, on Boost.Beast and Asio: event-driven, so an open
// connection costs a few kilobytes and no thread, and a slow or idle client holds nothing that
// others need. Every byte a client sends is bounded before it is held:
//   - the request line and headers by size, count and a deadline (a slowloris is closed);
//   - the body by size after chunked decoding, by progress (each read must bring bytes within
//     body_timeout), and by the memory budget, taken before the bytes are read;
//   - compressed bodies (Content-Encoding) are refused, not inflated;
//   - the application sees the headers first and may answer without reading the body (a wrong
//     API key costs the server nothing);
//   - past max_connections a connection is answered 503 at once and closed.
// Responses carry Content-Length; Range is never honoured; TCP_NODELAY is on.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/memory_budget.h"
#include "core/result.h"

namespace cc {

struct HttpLimits {
  size_t max_header_bytes = 16 << 10;  // request line and headers together
  size_t max_header_fields = 100;
  size_t max_body_bytes = 64 << 20;    // after chunked decoding
  size_t max_connections = 1024;       // open at once; more are answered 503 and closed
  std::chrono::milliseconds idle_timeout{5000};     // an open connection, for its next request to start
  std::chrono::milliseconds header_timeout{10000};  // from a request's first byte to the end of its headers
  std::chrono::milliseconds body_timeout{10000};    // for each read of the body to bring something
  std::chrono::milliseconds write_timeout{30000};   // for a response to be taken
};

struct ServerRequest {
  std::string method, target, path;  // path: the target without its query
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_addr;
  int remote_port = 0;
  MemoryBudget::Hold memory;  // the body's bytes, while they are held

  std::string header(std::string_view lower_name) const;  // "" when absent
};

struct ServerResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error_message;  // an error's message, for the routes whose clients read {"error": "message"}
};

// The JSON error body the server's answers use: {"error": {"message", "type", "param"}}.
ServerResponse error_response(int status, const std::string& message, const std::string& type, const std::string& param = "");

// A request line and headers in `data`, parsed and checked as the server does (limits, control
// characters, Transfer- and Content-Encoding): the answer the server gives at once, or nothing
// with `head` filled. For the fuzz target and tests; the server runs the same checks.
std::optional<ServerResponse> parse_request_head(std::string_view data, const HttpLimits& limits, ServerRequest* head);

// One request being answered, handed to the application with the request.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  // Sends the response; from any thread, once (later calls do nothing).
  virtual void reply(ServerResponse response) = 0;
  // `gone` runs once, on an I/O thread, if the client closes its connection before the reply.
  virtual void on_client_gone(std::function<void()> gone) = 0;
  // `due` runs once, on an I/O thread, at `when` if the reply has not been sent by then.
  virtual void on_deadline(std::chrono::steady_clock::time_point when, std::function<void()> due) = 0;
};

struct HttpHandlers {
  // On an I/O thread, once a request's headers are in: an answer now (the body, if any, is not
  // read and the connection closes after it), or nothing to go on reading the body.
  std::function<std::optional<ServerResponse>(const ServerRequest& head)> on_headers;
  // On an I/O thread, with the whole request: start its work and return.
  std::function<void(ServerRequest request, std::shared_ptr<HttpExchange> exchange)> on_request;
  // Answers the HTTP layer gave itself (limits, malformed requests, the connection cap), for
  // the log and metrics, and to give the error the shape its route's clients read; `head` is
  // null when no request line was read.
  std::function<void(const ServerRequest* head, ServerResponse& response)> on_refused;
};

class HttpServer {
 public:
  // Listens on host:port (0: any free port).
  static Result<std::unique_ptr<HttpServer>> listen(const std::string& host, int port, const HttpLimits& limits,
                                                    HttpHandlers handlers, MemoryBudget* budget);
  ~HttpServer();

  int port() const;
  size_t connections() const;
  // Serves on `threads` I/O threads (this one among them) until drain() has been called and
  // every request in flight has been answered.
  void run(int threads);
  // From any thread: stop accepting, close idle connections, finish the requests in flight
  // (their connections close after the response).
  void drain();

  struct Impl;  // Beast's and Asio's types stay in http_server.cpp

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cc
