#include "server/http_server.h"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace cc {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string ServerRequest::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return "";
}

ServerResponse error_response(int status, const std::string& message, const std::string& type, const std::string& param) {
  ServerResponse r;
  r.status = status;
  r.body = nlohmann::json{{"error", {{"message", message}, {"type", type}, {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)}}}}
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (status == 503) r.headers.emplace_back("Retry-After", "1");
  r.error_message = message;
  return r;
}

namespace {

constexpr size_t kReadChunk = 64 << 10;

std::string seconds_text(std::chrono::milliseconds d) {
  const auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

ServerResponse budget_error(const Error& e) {
  return e.kind == ErrorKind::kTooLarge ? error_response(413, e.message, "request_too_large") : error_response(503, e.message, "server_overloaded");
}

// The answer to a request line and headers Beast could not take.
ServerResponse head_error(beast::error_code ec, const HttpLimits& l) {
  if (ec == beast::error::timeout) return error_response(408, "the request line and headers did not arrive within " + seconds_text(l.header_timeout), "timeout_error");
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
    return error_response(431, "the request line and headers exceed " + std::to_string(l.max_header_bytes) + " bytes", "request_too_large");
  if (ec == http::error::body_limit)
    return error_response(413, "the body exceeds this server's limit of " + std::to_string(l.max_body_bytes) + " bytes", "request_too_large");
  return error_response(400, "malformed HTTP request: " + ec.message(), "invalid_request_error");
}

// The server's own checks on a parsed request line and headers, filling `head`; an answer if
// they fail.
std::optional<ServerResponse> check_head(const http::request<http::string_body>& msg, const HttpLimits& l, ServerRequest* head) {
  head->method = std::string(msg.method_string());
  head->target = std::string(msg.target());
  head->path = head->target.substr(0, head->target.find_first_of("?#"));
  head->headers.clear();
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    head->headers.emplace_back(std::move(name), std::string(f.value()));
  }
  if (head->headers.size() > l.max_header_fields)
    return error_response(431, "the request has " + std::to_string(head->headers.size()) + " header fields; at most " +
                                   std::to_string(l.max_header_fields) + " are taken",
                          "request_too_large");
  for (const auto& [name, value] : head->headers)  // Beast refuses these too; a value is never cut at one
    for (unsigned char c : value)
      if ((c < 0x20 && c != '\t') || c == 0x7F) return error_response(400, "header " + name + " holds a control character", "invalid_request_error");
  const std::string te = head->header("transfer-encoding");
  if (!te.empty() && !beast::iequals(te, "chunked"))
    return error_response(400, "Transfer-Encoding '" + te.substr(0, 64) + "' is not supported (only chunked)", "invalid_request_error");
  const std::string ce = head->header("content-encoding");
  if (!ce.empty() && !beast::iequals(ce, "identity"))
    return error_response(415, "compressed request bodies are not accepted (Content-Encoding: " + ce.substr(0, 64) + "); send the body uncompressed",
                          "unsupported_media_type");
  return std::nullopt;
}

}  // namespace

std::optional<ServerResponse> parse_request_head(std::string_view data, const HttpLimits& limits, ServerRequest* head) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  beast::error_code ec;
  while (!data.empty() && !parser.is_header_done()) {
    const size_t used = parser.put(net::buffer(data.data(), data.size()), ec);
    if (ec == http::error::need_more) return error_response(400, "incomplete request line and headers", "invalid_request_error");
    if (ec) return head_error(ec, limits);
    data.remove_prefix(used);
    if (used == 0) break;
  }
  if (!parser.is_header_done()) return error_response(400, "incomplete request line and headers", "invalid_request_error");
  return check_head(parser.get(), limits, head);
}


// One client connection (below). Not in the anonymous namespace: Impl, which has external
// linkage, keeps a set of them (-Wsubobject-linkage).
class HttpConnection;

struct HttpServer::Impl {
  Impl(const HttpLimits& l, HttpHandlers h, MemoryBudget* b)
      : limits(l), handlers(std::move(h)), budget(b), acceptor(net::make_strand(ioc)), retry(acceptor.get_executor()),
        work(net::make_work_guard(ioc)) {}

  void accept();
  void opened(HttpConnection* c);
  void closed(HttpConnection* c);

  net::io_context ioc;
  HttpLimits limits;
  HttpHandlers handlers;
  MemoryBudget* budget;
  tcp::acceptor acceptor;
  net::steady_timer retry;  // after a failed accept (out of file descriptors)
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;  // held until drained
  std::atomic<bool> draining{false};
  mutable std::mutex mu;
  std::set<HttpConnection*> live;
  int port = 0;
};

// One client connection: reads a request, hands it over, writes its response, and again while
// the client keeps the connection alive. Everything runs on the connection's strand.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(HttpServer::Impl& server, tcp::socket socket)
      : s_(server), stream_(std::move(socket)), buffer_(server.limits.max_header_bytes + kReadChunk), timer_(stream_.get_executor()) {
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);  // headers and body go out together, no Nagle delay
    const auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) addr_ = peer.address().to_string(), port_ = peer.port();
    s_.opened(this);
  }
  ~HttpConnection() { s_.closed(this); }

  void start() { net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->next_request(); }); }

  // drain(): an idle connection closes now, a busy one after its response.
  void drain() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kIdle) self->close();
    });
  }

  // The exchange's calls, each for request `seq` only (a late call finds a newer request, or none).
  void reply(uint64_t seq, ServerResponse r) {
    net::post(stream_.get_executor(), [self = shared_from_this(), seq, r = std::move(r)]() mutable {
      if (seq == self->seq_ && self->state_ == State::kWaiting) self->respond(std::move(r), false);
    });
  }
  void on_client_gone(uint64_t seq, std::function<void()> gone) {
    net::post(stream_.get_executor(), [self = shared_from_this(), seq, gone = std::move(gone)]() mutable {
      if (seq != self->seq_) return;
      if (self->state_ == State::kGone) return gone();
      if (self->state_ == State::kWaiting) self->gone_ = std::move(gone);
    });
  }
  void on_deadline(uint64_t seq, Clock::time_point when, std::function<void()> due) {
    net::post(stream_.get_executor(), [self = shared_from_this(), seq, when, due = std::move(due)]() mutable {
      if (seq != self->seq_ || self->state_ != State::kWaiting) return;
      self->timer_.expires_at(when);
      self->timer_.async_wait([self, seq, due = std::move(due)](beast::error_code ec) {
        if (!ec && seq == self->seq_ && self->state_ == State::kWaiting) due();
      });
    });
  }

 private:
  enum class State { kIdle, kHeaders, kBody, kWaiting, kWriting, kGone, kClosed };

  void next_request() {
    if (s_.draining) return close();
    state_ = State::kIdle;
    ++seq_;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(s_.limits.max_header_bytes));
    parser_->body_limit(s_.limits.max_body_bytes);
    hold_ = MemoryBudget::Hold(s_.budget);
    head_ = ServerRequest{};
    head_.remote_addr = addr_;
    head_.remote_port = port_;
    gone_ = nullptr;
    if (buffer_.size() > 0) return read_header();  // pipelined: already here
    stream_.expires_after(s_.limits.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunk), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->buffer_.commit(n);
      if (ec) return self->close();  // idle too long, or the client closed: nothing to answer
      self->read_header();
    });
  }

  void read_header() {
    state_ = State::kHeaders;
    stream_.expires_after(s_.limits.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset) return close();
    if (ec) return refuse(head_error(ec, s_.limits));
    if (auto refused = check_head(parser_->get(), s_.limits, &head_)) return refuse(std::move(*refused));
    const auto& msg = parser_->get();
    const HttpLimits& l = s_.limits;
    const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;
    if (auto early = s_.handlers.on_headers(head_)) return respond(std::move(*early), has_body);
    if (!has_body) return deliver();
    if (auto length = parser_->content_length()) {
      if (auto st = hold_.resize(static_cast<size_t>(*length), "a request body of " + std::to_string(*length) + " bytes"); !st.ok())
        return refuse(budget_error(st.error()));
    }
    if (beast::iequals(msg[http::field::expect], "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(l.write_timeout);
      return net::async_write(stream_, net::buffer(kContinue), [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return self->close();
        self->read_body();
      });
    }
    read_body();
  }

  void read_body() {
    state_ = State::kBody;
    if (parser_->is_done()) return deliver();
    stream_.expires_after(s_.limits.body_timeout);
    http::async_read_some(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    const HttpLimits& l = s_.limits;
    if (ec == beast::error::timeout) return refuse(error_response(408, "no part of the body arrived for " + seconds_text(l.body_timeout), "timeout_error"));
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == net::error::eof || ec == net::error::connection_reset) return close();
    if (ec) return refuse(head_error(ec, l));
    if (parser_->chunked()) {  // its size is known only as it arrives
      const size_t held = parser_->get().body().capacity();
      if (auto st = hold_.resize(held, "a chunked request body of " + std::to_string(held) + " bytes so far"); !st.ok())
        return refuse(budget_error(st.error()));
    }
    if (parser_->is_done()) return deliver();
    read_body();
  }

  void deliver();
  void watch();

  // Answers now, the HTTP layer's own reason: logged and counted by the application. A request
  // whose line or headers broke the rules is not read further; one refused for its body
  // (too large, over the budget) is, for a moment, so that its client gets to read why.
  void refuse(ServerResponse r) {
    if (s_.handlers.on_refused) s_.handlers.on_refused(state_ == State::kIdle ? nullptr : &head_, r);
    const bool malformed = r.status == 400 || r.status == 408 || r.status == 431;
    respond(std::move(r), true, !malformed);
  }

  void respond(ServerResponse r, bool close_after, bool linger_after = true) {
    state_ = State::kWriting;
    beast::error_code ignored;
    stream_.socket().cancel(ignored);  // the client-gone watch
    timer_.cancel();
    gone_ = nullptr;  // (it holds the application's request)
    const bool keep = !close_after && !s_.draining && parser_ && parser_->is_header_done() && parser_->get().keep_alive();
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "clipclap");
    res->set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->body() = std::move(r.body);
    res->keep_alive(keep);
    res->prepare_payload();
    stream_.expires_after(s_.limits.write_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep, close_after, linger_after](beast::error_code ec, size_t) {
      if (ec) return self->close();
      if (close_after && linger_after) return self->linger();  // the request may not have been read to its end
      if (close_after) return self->close();
      if (!keep) return self->close();
      self->next_request();
    });
  }

  // Answered before its body was read: the rest of the body is read and dropped for a moment
  // (at most kLingerBytes, kLinger), so that the client, still sending, gets to read the answer
  // instead of a reset connection.
  void linger() {
    state_ = State::kClosed;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    linger_until_ = Clock::now() + kLinger;
    drop_input();
  }
  void drop_input() {
    const auto left = linger_until_ - Clock::now();
    if (left <= Clock::duration::zero() || lingered_ > kLingerBytes) return close();
    stream_.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(left));
    stream_.async_read_some(net::buffer(sink_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->lingered_ += n;
      if (ec) return self->close();
      self->drop_input();
    });
  }
  static constexpr auto kLinger = std::chrono::seconds(2);
  static constexpr size_t kLingerBytes = 16 << 20;

  void close() {
    if (state_ == State::kWaiting) state_ = State::kGone;
    else if (state_ != State::kGone) state_ = State::kClosed;
    timer_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  HttpServer::Impl& s_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  net::steady_timer timer_;  // the exchange's deadline
  std::optional<http::request_parser<http::string_body>> parser_;
  MemoryBudget::Hold hold_;
  ServerRequest head_;
  std::string addr_;
  int port_ = 0;
  State state_ = State::kIdle;
  uint64_t seq_ = 0;
  bool watching_ = false;
  Clock::time_point linger_until_;
  size_t lingered_ = 0;
  std::array<char, 16384> sink_;
  std::function<void()> gone_;
};

namespace {

// The application's handle on one request.
class Exchange : public HttpExchange {
 public:
  Exchange(std::shared_ptr<HttpConnection> c, uint64_t seq) : c_(std::move(c)), seq_(seq) {}
  void reply(ServerResponse r) override {
    if (!replied_.exchange(true)) c_->reply(seq_, std::move(r));
  }
  void on_client_gone(std::function<void()> gone) override { c_->on_client_gone(seq_, std::move(gone)); }
  void on_deadline(Clock::time_point when, std::function<void()> due) override { c_->on_deadline(seq_, when, std::move(due)); }

 private:
  std::shared_ptr<HttpConnection> c_;
  uint64_t seq_;
  std::atomic<bool> replied_{false};
};

}  // namespace

void HttpConnection::deliver() {
  state_ = State::kWaiting;
  stream_.expires_never();
  ServerRequest request = std::move(head_);
  request.body = std::move(parser_->get().body());
  request.memory = std::move(hold_);
  watch();
  s_.handlers.on_request(std::move(request), std::make_shared<Exchange>(shared_from_this(), seq_));
}

// While the application works, a readable socket means the client closed (or sent its next
// request early, which is left for later).
void HttpConnection::watch() {
  if (watching_) return;
  watching_ = true;
  stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this(), seq = seq_](beast::error_code ec) {
    self->watching_ = false;
    if (ec || seq != self->seq_ || self->state_ != State::kWaiting) return;
    char c;
    const ssize_t n = ::recv(self->stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return;  // pipelined bytes: the next request
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return self->watch();
    auto gone = std::move(self->gone_);
    self->close();
    if (gone) gone();
  });
}

void HttpServer::Impl::opened(HttpConnection* c) {
  std::lock_guard<std::mutex> lock(mu);
  live.insert(c);
}

void HttpServer::Impl::closed(HttpConnection* c) {
  std::lock_guard<std::mutex> lock(mu);
  live.erase(c);
  if (draining && live.empty()) work.reset();  // run() returns once the last connection is gone
}

void HttpServer::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (draining || !acceptor.is_open()) return;
    if (ec) {  // out of descriptors, most likely: try again shortly rather than spin
      retry.expires_after(std::chrono::milliseconds(50));
      retry.async_wait([this](beast::error_code) { accept(); });
      return;
    }
    size_t open;
    {
      std::lock_guard<std::mutex> lock(mu);
      open = live.size();
    }
    if (open >= limits.max_connections) {
      // Answered at once, without reading anything, and closed: a full server stays cheap.
      ServerResponse r = error_response(503, "this server has " + std::to_string(open) + " connections open, its limit; retry shortly", "server_overloaded");
      const std::string text = "HTTP/1.1 503 Service Unavailable\r\nServer: clipclap\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                               "Connection: close\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
      (void)::send(socket.native_handle(), text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      beast::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
      if (handlers.on_refused) handlers.on_refused(nullptr, r);
    } else {
      std::make_shared<HttpConnection>(*this, std::move(socket))->start();
    }
    accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;

Result<std::unique_ptr<HttpServer>> HttpServer::listen(const std::string& host, int port, const HttpLimits& limits, HttpHandlers handlers,
                                                       MemoryBudget* budget) {
  auto impl = std::make_unique<Impl>(limits, std::move(handlers), budget);
  beast::error_code ec;
  const auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return error("cannot listen on " + host + ": not an IP address");
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return error("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port; }

size_t HttpServer::connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->live.size();
}

void HttpServer::run(int threads) {
  net::dispatch(impl_->acceptor.get_executor(), [this] { impl_->accept(); });
  std::vector<std::thread> more;
  for (int i = 1; i < threads; ++i) more.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : more) t.join();
}

void HttpServer::drain() {
  Impl& s = *impl_;
  if (s.draining.exchange(true)) return;
  net::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    s.retry.cancel();
  });
  // The references are dropped after the lock is released: the last one to a connection runs its
  // destructor, which takes the same lock to leave `live`.
  std::vector<std::shared_ptr<HttpConnection>> alive;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (HttpConnection* c : s.live)
      if (auto a = c->weak_from_this().lock()) alive.push_back(std::move(a));  // (one being destroyed is not)
    if (s.live.empty()) s.work.reset();
  }
  for (auto& c : alive) c->drain();
}

}  // namespace cc
