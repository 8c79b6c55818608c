#include "server/server.h"

#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/sha256.h"
#include "core/threads.h"
#include "server/allocator.h"
#include "server/metrics.h"
#include "server/task_pool.h"
#include "server/web_assets.h"

namespace cc {

namespace {

using nlohmann::json;

// Compares digests, so neither the key's content nor its length shows in the timing.
bool same_key(const std::string& given, const std::string& expected) {
  const std::string a = sha256_hex(given.data(), given.size()), b = sha256_hex(expected.data(), expected.size());
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string iso_time() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const char* error_type(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 405: return "method_not_allowed";
    case 408: return "timeout_error";
    case 413: return "request_too_large";
    case 415: return "unsupported_media_type";
    case 422: return "unsupported_modality";
    case 431: return "request_too_large";
    case 503: return "server_overloaded";
    case 504: return "timeout_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

ServerResponse error_of(const ApiError& e) { return error_response(e.status, e.message, e.type, e.param); }

// The routes. Metrics label requests by these paths only (anything else is "other").
enum class Route { kEmbedOllama, kEmbedOpenAI, kEmbedAntfly, kVectorize, kMeta, kModelsOpenAI, kModelsOllama, kHealth, kReady, kMetrics, kOpenApi, kPlayground, kDocs };
// Who may call a route: with the API key (when the server has one), or anyone (probes, the pages
// and the document; the playground asks for the key and sends it itself). /metrics has its own key.
enum class Access { kKeyed, kOpen };
// The error body a route's clients read: OpenAI's {"error": {"message", "type", "param"}}, or
// {"error": "message"} (Weaviate's modules, antfly).
enum class Errors { kOpenAI, kFlat };
struct RouteInfo {
  const char* method;
  const char* path;
  Route route;
  Access access;
  Errors errors;
};
constexpr RouteInfo kRoutes[] = {
    {"POST", "/api/embed", Route::kEmbedOllama, Access::kKeyed, Errors::kOpenAI},
    {"POST", "/v1/embeddings", Route::kEmbedOpenAI, Access::kKeyed, Errors::kOpenAI},
    {"POST", "/embeddings", Route::kEmbedOpenAI, Access::kKeyed, Errors::kOpenAI},  // for OpenAI clients whose base URL lacks /v1
    {"POST", "/ai/v1/embed", Route::kEmbedAntfly, Access::kKeyed, Errors::kFlat},   // antfly's "antfly" embedder provider
    {"POST", "/vectorize", Route::kVectorize, Access::kKeyed, Errors::kFlat},       // Weaviate's multi2vec-bind and multi2vec-clip
    {"GET", "/meta", Route::kMeta, Access::kKeyed, Errors::kFlat},
    {"GET", "/.well-known/live", Route::kHealth, Access::kOpen, Errors::kOpenAI},
    {"GET", "/.well-known/ready", Route::kReady, Access::kOpen, Errors::kOpenAI},  // Weaviate waits for it at start-up
    {"GET", "/v1/models", Route::kModelsOpenAI, Access::kKeyed, Errors::kOpenAI},
    {"GET", "/api/models", Route::kModelsOllama, Access::kKeyed, Errors::kOpenAI},
    {"GET", "/healthz", Route::kHealth, Access::kOpen, Errors::kOpenAI},
    {"GET", "/readyz", Route::kReady, Access::kOpen, Errors::kOpenAI},
    {"GET", "/metrics", Route::kMetrics, Access::kOpen, Errors::kOpenAI},
    {"GET", "/openapi.json", Route::kOpenApi, Access::kOpen, Errors::kOpenAI},  // src/server/web/openapi.json, held to this table by a test
    {"GET", "/", Route::kPlayground, Access::kOpen, Errors::kOpenAI},          // src/server/web/index.html
    {"GET", "/docs", Route::kDocs, Access::kOpen, Errors::kOpenAI},            // src/server/web/docs.html: the document, readable
};

const RouteInfo* find_route(const std::string& path) {
  for (const auto& r : kRoutes)
    if (path == r.path) return &r;
  return nullptr;
}

std::string route_label(const std::string& path) { return find_route(path) ? path : "other"; }

Api api_of(Route route) {
  switch (route) {
    case Route::kEmbedOllama: return Api::kOllama;
    case Route::kEmbedAntfly: return Api::kAntfly;
    case Route::kVectorize: return Api::kWeaviate;
    default: return Api::kOpenAI;
  }
}

// An error answer in the shape its route's clients read (RouteInfo::errors).
ServerResponse shaped(const std::string& path, ServerResponse r) {
  const RouteInfo* route = find_route(path);
  if (route && route->errors == Errors::kFlat && !r.error_message.empty())
    r.body = json{{"error", r.error_message}}.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

class Server;

// One embedding request, from its body to its answer. It moves between threads (preparation,
// fetching, inference, I/O) and is answered exactly once: by its result, its deadline or an
// error; a client that left gets no answer at all.
struct EmbedCall : std::enable_shared_from_this<EmbedCall> {
  EmbedCall(Server& s, ServerRequest r, std::shared_ptr<HttpExchange> e, Api a)
      : server(s), request(std::move(r)), exchange(std::move(e)), api(a), body_bytes(request.body.size()) {}

  void prepare();      // preparation thread: parse, check, then fetch or decode
  void fetch_done();   // a fetch thread: the last URL is in
  void decode();       // preparation thread: items -> tensors -> the batcher
  void respond();      // preparation thread, after the batch
  void timed_out();    // I/O thread
  void client_gone();  // I/O thread
  void fail(const ApiError& e);
  bool answer(ServerResponse r);  // false if it was answered already
  void release_job();
  void log(int status);

  Server& server;
  ServerRequest request;
  std::shared_ptr<HttpExchange> exchange;
  Api api;
  const size_t body_bytes;  // the body itself is let go once parsed
  const Clock::time_point start = Clock::now();
  std::atomic<bool> answered{false};

  std::mutex mu;  // guards job and coming, which the I/O thread may reach
  std::shared_ptr<Job> job;
  std::unique_ptr<Batcher::Announcement> coming;

  EmbedRequest parsed;
  const ServedModel* served = nullptr;
  MemoryBudget::Hold memory;  // decoded media, tensors, the response: what this request holds beyond its body
  std::optional<CallInputs> inputs;  // the items as the towers take them (made in decode)
  std::atomic<size_t> fetches_left{0};
  std::mutex fetch_mu;
  std::optional<ApiError> fetch_error;
  size_t tokens = 0;
  std::string modalities;
  double prepare_ms = 0, wait_ms = 0;
  Clock::time_point queued_at;
};

class Server {
 public:
  Server(const ServerOptions& opts, std::vector<ServedModel> models)
      : opts_(opts), models_(std::move(models)), budget_(opts.max_inflight_bytes),
        prepare_pool_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), [] { run_serially_on_this_thread(); }),
        fetch_pool_(opts.fetch_threads), batcher_(opts.batching, metrics_) {
    describe_metrics();
    prepare_limits_ = opts.prepare;
    prepare_limits_.image.budget = &budget_;
    prepare_limits_.audio.budget = &budget_;
    prepare_limits_.video.limits.budget = &budget_;
    prepare_limits_.video.threads = 1;  // requests are prepared in parallel already
    for (size_t i = 0; i < models_.size(); ++i) {
      batcher_.add_model(models_[i].name, models_[i].model.get());
      lookup_.emplace(models_[i].name, i);
      for (const auto& a : models_[i].aliases) lookup_.emplace(a, i);
    }
  }

  int run() {
    const sigset_t signals = block_shutdown_signals();
    HttpHandlers handlers;
    handlers.on_headers = [this](const ServerRequest& head) { return on_headers(head); };
    handlers.on_request = [this](ServerRequest r, std::shared_ptr<HttpExchange> e) { on_request(std::move(r), std::move(e)); };
    handlers.on_refused = [this](const ServerRequest* head, ServerResponse& r) {
      if (head) r = shaped(head->path, std::move(r));
      record(head, r.status, "", "none", Clock::now(), 0);
    };
    auto http = HttpServer::listen(opts_.host, opts_.port, opts_.http, std::move(handlers), &budget_);
    if (!http.ok()) {
      std::fprintf(stderr, "clipclap serve: %s\n", http.error().message.c_str());
      return 1;
    }
    http_ = std::move(http).value();
    std::printf("listening on http://%s:%d\n", opts_.host.c_str(), http_->port());
    std::fflush(stdout);
    std::thread signal_waiter([this, signals] {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig == SIGUSR1) return;  // run() ended on its own
      std::fprintf(stderr, "{\"time\":\"%s\",\"event\":\"draining\",\"signal\":%d}\n", iso_time().c_str(), sig);
      draining_ = true;
      http_->drain();  // no new connections; requests in flight finish
    });
    ready_ = true;
    http_->run(std::max(1, opts_.http_threads));
    if (!draining_) pthread_kill(signal_waiter.native_handle(), SIGUSR1);
    signal_waiter.join();
    std::fprintf(stderr, "{\"time\":\"%s\",\"event\":\"stopped\"}\n", iso_time().c_str());
    return 0;
  }

  // What an EmbedCall needs of the server.
  const ServerOptions& opts() const { return opts_; }
  const PrepareLimits& prepare_limits() const { return prepare_limits_; }
  MemoryBudget& budget() { return budget_; }
  Batcher& batcher() { return batcher_; }
  TaskPool& prepare_pool() { return prepare_pool_; }
  Metrics& metrics() { return metrics_; }

  // By name or alias; a hub-style "org/name" not served as such is looked up as "name" (antfly
  // calls clipclap "antflydb/clipclap").
  const ServedModel* find_model(const std::string& name) const {
    auto it = lookup_.find(name);
    if (it == lookup_.end() && name.find('/') != std::string::npos) it = lookup_.find(name.substr(name.rfind('/') + 1));
    return it == lookup_.end() ? nullptr : &models_[it->second];
  }

  // The model answering Weaviate's /vectorize and /meta: --weaviate-model, or the only one.
  const ServedModel* weaviate_model(ApiError* why) const {
    if (!opts_.weaviate_model.empty()) return find_model(opts_.weaviate_model);  // checked at start-up
    if (models_.size() == 1) return &models_[0];
    *why = bad_request("this server serves " + std::to_string(models_.size()) + " models; start it with --weaviate-model NAME to choose the one Weaviate uses");
    return nullptr;
  }
  const std::vector<ServedModel>& models() const { return models_; }

  // A URL for `call`'s item `index`, on the fetch threads (bounded: a hanging origin holds a
  // fetch thread, never a preparation thread).
  bool fetch(const std::shared_ptr<EmbedCall>& call, size_t index) {
    if (fetches_.fetch_add(1) >= opts_.max_fetches) {
      fetches_.fetch_sub(1);
      return false;
    }
    fetch_pool_.post([this, call, index] {
      InputItem& item = call->parsed.items[index];
      if (!call->answered) {
        item.fetched = MemoryBudget::Hold(&budget_);
        auto bytes = fetch_url(item.fetch_url, prepare_limits_.fetch, item.fetched);
        const std::string& param = item.where;
        if (bytes.ok()) {
          item.bytes = std::move(bytes).value();
        } else {
          std::lock_guard<std::mutex> lock(call->fetch_mu);
          if (!call->fetch_error) call->fetch_error = api_error(bytes.error().context(param), param);
        }
      }
      fetches_.fetch_sub(1);
      if (call->fetches_left.fetch_sub(1) == 1) call->fetch_done();
    });
    return true;
  }

  // The log line and metrics of one answered request.
  // `bytes_in`: the body's size, for a request whose body was let go after parsing.
  void record(const ServerRequest* r, int status, const std::string& model, const std::string& modalities, Clock::time_point start, size_t items,
              double prepare_ms = 0, double wait_ms = 0, std::optional<size_t> bytes_in = std::nullopt) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const std::string route = r ? route_label(r->path) : "other", code = std::to_string(status);
    metrics_.add("clipclap_requests_total", {{"route", route}, {"model", model}, {"modality", modalities}, {"status", code}});
    if (status >= 400)
      metrics_.add("clipclap_request_errors_total",
                   {{"route", route}, {"model", model}, {"modality", modalities}, {"status", code}, {"type", error_type(status)}});
    metrics_.observe("clipclap_request_duration_seconds", {{"route", route}}, seconds);
    json line = {{"time", iso_time()},
                 {"remote", r ? r->remote_addr : ""},
                 {"method", r ? echo(r->method) : ""},
                 {"path", r ? echo(r->path) : ""},
                 {"status", status},
                 {"model", model},
                 {"items", items},
                 {"modalities", modalities},
                 {"bytes_in", bytes_in ? *bytes_in : r ? r->body.size() : 0},
                 {"ms", std::round(seconds * 1e4) / 10},
                 {"prepare_ms", std::round(prepare_ms * 10) / 10},
                 {"wait_ms", std::round(wait_ms * 10) / 10}};
    std::fprintf(stderr, "%s\n", line.dump(-1, ' ', false, json::error_handler_t::replace).c_str());  // never the body
  }

 private:
  void describe_metrics() {
    metrics_.describe("clipclap_requests_total", "counter", "HTTP requests by route, model, modality and status");
    metrics_.describe("clipclap_request_errors_total", "counter", "requests answered with an error status, by route, model, modality, status and type");
    metrics_.describe("clipclap_request_duration_seconds", "histogram", "request latency by route",
                      {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
    metrics_.describe("clipclap_batch_size", "histogram", "items per inference batch", {1, 2, 4, 8, 16, 32, 64, 128});
    metrics_.describe("clipclap_inference_seconds", "histogram", "time of one inference batch",
                      {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    metrics_.describe("clipclap_queue_depth", "gauge", "items waiting for a batch");
    metrics_.describe("clipclap_items_embedded_total", "counter", "items embedded, by model and modality");
    metrics_.describe("clipclap_received_bytes_total", "counter", "request body bytes received, by route");
    metrics_.describe("clipclap_inflight_bytes", "gauge", "bytes requests hold now (bodies, media, tensors, responses), of --max-inflight-mb");
    metrics_.describe("clipclap_open_connections", "gauge", "client connections open now");
  }

  // The key a request gives: Authorization: Bearer KEY, or X-API-Key.
  static std::string given_key(const ServerRequest& r) {
    const std::string auth = r.header("authorization");
    if (auth.rfind("Bearer ", 0) == 0) return auth.substr(7);
    return r.header("x-api-key");
  }

  std::optional<ServerResponse> on_headers(const ServerRequest& head) {
    auto answer = check_head(head);
    if (answer) *answer = shaped(head.path, std::move(*answer));
    return answer;
  }

  std::optional<ServerResponse> check_head(const ServerRequest& head) {
    const RouteInfo* route = find_route(head.path);
    if (!route) return error_response(404, "no route " + echo(head.method) + " " + echo(head.path), "not_found_error");
    if (head.method != route->method) {
      ServerResponse r = error_response(405, echo(head.method) + " is not allowed on " + route->path + " (use " + route->method + ")", "method_not_allowed");
      r.headers.emplace_back("Allow", route->method);
      return r;
    }
    const std::string key = given_key(head);
    if (route->access == Access::kKeyed && !opts_.api_key.empty() && (key.empty() || !same_key(key, opts_.api_key)))
      return error_response(401, "missing or wrong API key (Authorization: Bearer KEY)", "authentication_error");
    if (route->route == Route::kMetrics && !opts_.metrics_key.empty() &&
        (key.empty() || (!same_key(key, opts_.metrics_key) && (opts_.api_key.empty() || !same_key(key, opts_.api_key)))))
      return error_response(401, "missing or wrong metrics key (Authorization: Bearer KEY)", "authentication_error");
    return std::nullopt;
  }

  void on_request(ServerRequest request, std::shared_ptr<HttpExchange> exchange) {
    const Clock::time_point start = Clock::now();
    const Route route = find_route(request.path)->route;  // on_headers let only known routes through
    if (route == Route::kEmbedOllama || route == Route::kEmbedOpenAI || route == Route::kEmbedAntfly || route == Route::kVectorize) {
      metrics_.add("clipclap_received_bytes_total", {{"route", request.path}}, static_cast<double>(request.body.size()));
      auto call = std::make_shared<EmbedCall>(*this, std::move(request), exchange, api_of(route));
      call->coming = std::make_unique<Batcher::Announcement>(&batcher_);  // batches wait for this request's items
      call->memory = MemoryBudget::Hold(&budget_);
      exchange->on_deadline(call->start + std::chrono::seconds(opts_.timeout_s), [call] { call->timed_out(); });
      exchange->on_client_gone([call] { call->client_gone(); });
      prepare_pool_.post([call] { call->prepare(); });
      return;
    }
    ServerResponse r;
    r.status = 200;
    switch (route) {
      case Route::kModelsOpenAI: r.body = model_list(true).dump(); break;
      case Route::kModelsOllama: r.body = model_list(false).dump(); break;
      case Route::kMeta: {
        ApiError why;
        const ServedModel* m = weaviate_model(&why);
        r = m ? ServerResponse{200, "application/json", json{{"model", m->name}, {"server", "clipclap"}, {"info", model_entry(*m)}}.dump(), {}, ""}
              : error_of(why);
        break;
      }
      case Route::kHealth: r.body = "{\"status\":\"ok\"}"; break;
      case Route::kReady: {
        const bool ready = ready_ && !draining_;
        r.status = ready ? 200 : 503;
        r.body = json{{"status", ready ? "ready" : "draining"}, {"models", models_.size()}}.dump();
        break;
      }
      case Route::kOpenApi: r.body = std::string(web_asset("openapi.json").value_or("{}")); break;
      case Route::kPlayground:
      case Route::kDocs:
        r.content_type = "text/html; charset=utf-8";
        r.body = std::string(web_asset(route == Route::kDocs ? "docs.html" : "index.html").value_or(""));
        break;
      case Route::kMetrics:
        metrics_.set("clipclap_inflight_bytes", {}, static_cast<double>(budget_.in_use()));
        metrics_.set("clipclap_open_connections", {}, static_cast<double>(http_->connections()));
        r.content_type = "text/plain; version=0.0.4";
        r.body = metrics_.render();
        break;
      default: break;
    }
    const int status = r.status;
    exchange->reply(shaped(request.path, std::move(r)));
    record(&request, status, "", "none", start, 0);
  }

  static json model_entry(const ServedModel& m) {
    const ModelInfo& info = m.model->info();
    json caps = json::array();
    for (auto [on, name] : {std::pair{info.caps.text, "text"}, std::pair{info.caps.image, "image"}, std::pair{info.caps.audio, "audio"}})
      if (on) caps.push_back(name);
    return {{"type", model_kind_name(info.kind)}, {"capabilities", caps}, {"dimension", m.model->dim()}, {"precision", precision_name(m.model->precision())},
            {"fp32_layers", m.model->fp32_layers().size()}};
  }

  json model_list(bool openai) const {
    json data = json::array();
    for (const auto& m : models_) {
      json entry = model_entry(m);
      if (openai) entry.update({{"id", m.name}, {"object", "model"}, {"created", 0}, {"owned_by", "clipclap"}});
      else entry.update({{"name", m.name}, {"aliases", m.aliases}});
      data.push_back(entry);
    }
    return openai ? json{{"object", "list"}, {"data", data}} : json{{"models", data}};
  }

  // Destroyed bottom up: the batcher first (what it finishes posts to the preparation pool),
  // then the pools (whose tasks may still reply through the HTTP server), then the rest.
  ServerOptions opts_;
  PrepareLimits prepare_limits_;
  std::vector<ServedModel> models_;
  std::map<std::string, size_t> lookup_;
  MemoryBudget budget_;
  Metrics metrics_;
  std::unique_ptr<HttpServer> http_;
  std::atomic<bool> ready_{false}, draining_{false};
  std::atomic<size_t> fetches_{0};
  TaskPool prepare_pool_, fetch_pool_;
  Batcher batcher_;
};

// The memory a call holds goes back to the budget when the call is destroyed: the threads that
// may still be working on it (a decode cut short by a timeout) hold it until they return.
bool EmbedCall::answer(ServerResponse r) {
  if (answered.exchange(true)) return false;
  release_job();
  const int status = r.status;
  exchange->reply(shaped(request.path, std::move(r)));
  log(status);
  return true;
}

void EmbedCall::release_job() {
  std::lock_guard<std::mutex> lock(mu);
  if (job) job->cancel();  // its queued items are dropped at once (done already, unless an error or a timeout)
  job.reset();             // (its on_done holds this call: that cycle ends here)
  coming.reset();
}

void EmbedCall::log(int status) {
  server.record(&request, status, served ? served->name : "", modalities.empty() ? "none" : modalities, start, parsed.items.size(), prepare_ms,
                wait_ms, body_bytes);
}

void EmbedCall::fail(const ApiError& e) { answer(error_of(e)); }

void EmbedCall::timed_out() {
  answer(error_response(504, "not done within " + std::to_string(server.opts().timeout_s) + " s", "timeout_error"));
}

void EmbedCall::client_gone() {
  if (answered.exchange(true)) return;
  release_job();
  log(499);  // nginx's "client closed request": nobody reads it, the log and metrics do
}

void EmbedCall::prepare() {
  if (answered) return;
  const auto t0 = Clock::now();
  const ServerOptions& opts = server.opts();
  if (auto e = parse_embed_request(request.body, api, opts.parse, &parsed, &memory)) return fail(*e);
  std::string().swap(request.body);  // parsed: the body's bytes go back to the budget
  request.memory.release();
  std::set<std::string> kinds;
  for (const auto& it : parsed.items) kinds.insert(modality_name(it.modality));
  for (const auto& k : kinds) modalities += (modalities.empty() ? "" : ",") + k;

  if (api == Api::kWeaviate) {  // Weaviate names no model
    ApiError why;
    served = server.weaviate_model(&why);
    if (!served) return fail(why);
  } else {
    if (parsed.model.empty()) {
      if (server.models().size() != 1) return fail(bad_request("model is required (GET /v1/models lists them)", "model"));
      parsed.model = server.models()[0].name;
    }
    served = server.find_model(parsed.model);
    if (!served) return fail({404, "model '" + echo(parsed.model) + "' is not served here (GET /v1/models lists them)", "not_found_error", "model"});
  }
  const Embedder& model = *served->model;
  const Capabilities caps = model.info().caps;
  for (size_t i = 0; i < parsed.items.size(); ++i) {
    const Modality m = parsed.items[i].modality;
    if ((m == Modality::kText && !caps.text) || (m == Modality::kImage && !caps.image) || (m == Modality::kAudio && !caps.audio) ||
        (m == Modality::kVideo && !caps.image && !caps.audio))
      return fail({422, parsed.items[i].where + ": model '" + served->name + "' (" + model_kind_name(model.info().kind) + ") embeds " +
                            capabilities_string(caps) + ", not " + modality_name(m),
                   "unsupported_modality", parsed.items[i].where});
  }
  if (parsed.dimensions && *parsed.dimensions != model.dim())
    return fail(bad_request("dimensions must be " + std::to_string(model.dim()) + " for model '" + served->name + "' (its vectors are not truncated)",
                            "dimensions"));
  // What its tensors and response will hold, taken now: a request that could never fit is
  // refused (413) before any work, one that does not fit now is told to retry (503).
  size_t images = 0;
  for (const auto& it : parsed.items) images += it.modality == Modality::kImage;
  const size_t ahead = images * model.pixel_values_bytes() + parsed.items.size() * (static_cast<size_t>(model.dim()) * 16 + 64) + 256;
  if (auto st = memory.add(ahead, "the request's " + std::to_string(parsed.items.size()) + " tensors and response"); !st.ok())
    return fail(api_error(st.error()));
  {
    std::vector<Modality> ms;  // a video announces one frame and one clip: its lanes wait for it
    for (const auto& it : parsed.items) {
      if (it.modality != Modality::kVideo) ms.push_back(it.modality);
      if (it.modality == Modality::kVideo && caps.image) ms.push_back(Modality::kImage);
      if (it.modality == Modality::kVideo && caps.audio) ms.push_back(Modality::kAudio);
    }
    std::lock_guard<std::mutex> lock(mu);
    if (coming) coming->items(served->name, ms);
  }
  prepare_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();

  std::vector<size_t> urls;
  for (size_t i = 0; i < parsed.items.size(); ++i)
    if (!parsed.items[i].fetch_url.empty()) urls.push_back(i);
  if (urls.empty()) return decode();
  fetches_left = urls.size();
  for (size_t i : urls)  // fetches already posted find the call answered and stop
    if (!server.fetch(shared_from_this(), i)) return fail({503, "this server is fetching as many URLs as it takes; retry shortly", "server_overloaded", ""});
}

void EmbedCall::fetch_done() {
  if (answered) return;
  if (fetch_error) return fail(*fetch_error);
  server.prepare_pool().post([self = shared_from_this()] { self->decode(); });
}

void EmbedCall::decode() {
  if (answered) return;
  const auto t0 = Clock::now();
  const Embedder& model = *served->model;
  inputs.emplace(parsed.items.size());
  for (size_t i = 0; i < parsed.items.size(); ++i) {
    if (answered) return;  // timed out, or the client left, while earlier items decoded
    InputItem& item = parsed.items[i];
    const std::string& param = item.where;
    size_t tensors = 0;  // what the prepared item holds beyond what was taken for it ahead
    if (item.modality == Modality::kVideo) {
      PreparedVideo video;
      if (auto e = prepare_video_item(model, item, param, server.prepare_limits(), &video)) return fail(*e);
      for (const auto& in : video.inputs) tensors += in.bytes();
      inputs->add(i, std::move(video));
    } else {
      PreparedInput in;
      if (auto e = prepare_item(model, item, param, parsed.truncate, server.prepare_limits(), &in)) return fail(*e);
      tokens += in.ids.size();
      if (item.modality == Modality::kAudio) tensors = in.bytes();  // an image's was taken ahead
      inputs->add(i, std::move(in));
    }
    // The encoded file is not needed while the request waits; its tensors are.
    const size_t encoded = (item.fetched.bytes() > 0 ? 0 : item.bytes.capacity()) + item.text.size();  // fetched bytes have their own hold
    std::vector<uint8_t>().swap(item.bytes);
    std::string().swap(item.text);
    item.fetched.release();
    const size_t now = memory.bytes() - std::min(memory.bytes(), encoded) + tensors;
    if (auto st = memory.resize(now, "the request's prepared inputs"); !st.ok()) return fail(api_error(st.error(), param));
  }
  std::vector<PreparedInput> prepared = inputs->take_tower_inputs();
  prepare_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();

  std::lock_guard<std::mutex> lock(mu);
  if (answered) return;
  job = std::make_shared<Job>(prepared.size(), [self = shared_from_this()] { self->server.prepare_pool().post([self] { self->respond(); }); });
  queued_at = Clock::now();
  const bool queued = server.batcher().submit(served->name, job, std::move(prepared));
  coming.reset();  // delivered
  if (!queued) {
    job.reset();
    server.prepare_pool().post([self = shared_from_this()] { self->fail({503, "the queue is full; retry shortly", "server_overloaded", ""}); });
  }
}

void EmbedCall::respond() {
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(mu);
    job = this->job;  // kept while the response is built, whatever a timeout does meanwhile
  }
  if (answered || !job) return;
  wait_ms = std::chrono::duration<double, std::milli>(Clock::now() - queued_at).count();
  if (!job->error.empty()) return fail({500, job->error, "server_error", ""});
  // One vector per item: its input's, or its video's pooled vector (and segments, if asked).
  auto embedded = inputs->item_vectors(job->vectors, server.prepare_limits().video.audio_weight);
  if (!embedded.ok()) return fail(api_error(embedded.error()));
  std::vector<std::vector<float>>& vectors = embedded->vectors;
  std::vector<std::string> extras;
  if (parsed.video_segments) {
    extras.resize(parsed.items.size());
    for (size_t i = 0; i < parsed.items.size(); ++i)
      if (embedded->videos[i]) append_video_json(extras[i], *embedded->videos[i], false);
  }
  ServerResponse r;
  if (api == Api::kWeaviate) {
    std::vector<Modality> modalities;
    for (const auto& item : parsed.items) modalities.push_back(item.modality);
    r.body = vectorize_body(modalities, vectors);
    answer(std::move(r));
    return;
  }
  const bool binary = (api == Api::kOllama || api == Api::kAntfly) && request.header("accept").find("application/octet-stream") != std::string::npos;
  const ResponseEncoding encoding = binary ? ResponseEncoding::kBinary : parsed.base64 ? ResponseEncoding::kBase64 : ResponseEncoding::kJson;
  if (binary) r.content_type = "application/octet-stream";
  r.body = embeddings_body(api, encoding, served->name, served->model->dim(), vectors, tokens, extras);
  answer(std::move(r));
}

}  // namespace

std::vector<std::pair<std::string, std::string>> served_routes() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : kRoutes) out.emplace_back(r.method, r.path);
  return out;
}

sigset_t block_shutdown_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);  // wakes the signal thread when the server stops on its own
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int run_server(const ServerOptions& opts, std::vector<ServedModel> models) {
  block_shutdown_signals();
  tune_malloc_for_server();
  HeapTrimmer trimmer(1000);
  Server server(opts, std::move(models));
  return server.run();
}

}  // namespace cc
