#include "server/server.h"

#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <map>
#include <semaphore>
#include <set>

#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "core/sha256.h"
#include "core/threads.h"
#include "server/allocator.h"
#include "server/connection_watch.h"
#include "server/metrics.h"

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

void append_floats(std::string& out, const std::vector<float>& v) {
  char buf[32];
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, i ? ",%.9g" : "%.9g", v[i]);  // 9 significant digits round-trip float32
    out += buf;
  }
  out += ']';
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
    case 413: return "request_too_large";
    case 422: return "unsupported_modality";
    case 503: return "server_overloaded";
    case 504: return "timeout_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

// Requests being parsed and prepared at once: one per core.
using PrepareSlots = std::counting_semaphore<1024>;

// A place among the requests being parsed and prepared; given back early or on any return.
class PrepareSlot {
 public:
  explicit PrepareSlot(PrepareSlots& slots) : slots_(&slots) { slots_->acquire(); }
  ~PrepareSlot() { release(); }
  PrepareSlot(const PrepareSlot&) = delete;
  PrepareSlot& operator=(const PrepareSlot&) = delete;
  void release() {
    if (slots_) slots_->release();
    slots_ = nullptr;
  }

 private:
  PrepareSlots* slots_;
};

class Server {
 public:
  Server(const ServerOptions& opts, std::vector<ServedModel> models)
      : opts_(opts), models_(std::move(models)), batcher_(opts.batching, metrics_),
        prepare_slots_(std::max(1u, std::thread::hardware_concurrency())) {
    describe_metrics();
    for (size_t i = 0; i < models_.size(); ++i) {
      batcher_.add_model(models_[i].name, models_[i].model.get());
      lookup_.emplace(models_[i].name, i);
      for (const auto& a : models_[i].aliases) lookup_.emplace(a, i);
    }
  }

  int run() {
    const sigset_t signals = block_shutdown_signals();

    http_.new_task_queue = [n = opts_.http_threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
    http_.set_payload_max_length(opts_.max_body_bytes);
    http_.set_keep_alive_timeout(2);
    http_.set_tcp_nodelay(true);  // headers and body go out as separate writes: Nagle + delayed ACK held each response 40 ms
    http_.set_keep_alive_max_count(100000);  // httplib closes after 5 by default; clients reuse connections
    http_.set_read_timeout(30);
    routes();
    // httplib 0.11 listens with a backlog of 5: bursts of new connections overflow it and
    // clients see resets after a 1-s SYN retry. The listening socket gets a real backlog.
    int listen_fd = -1;
    http_.set_socket_options([&listen_fd](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      if (listen_fd < 0) listen_fd = sock;
    });
    const int port = opts_.port == 0 ? http_.bind_to_any_port(opts_.host) : (http_.bind_to_port(opts_.host, opts_.port) ? opts_.port : -1);
    if (port <= 0) {
      std::fprintf(stderr, "clipclap serve: cannot listen on %s:%d\n", opts_.host.c_str(), opts_.port);
      return 1;
    }
    if (listen_fd >= 0) ::listen(listen_fd, SOMAXCONN);
    std::printf("listening on http://%s:%d\n", opts_.host.c_str(), port);
    std::fflush(stdout);
    std::thread signal_waiter([this, signals] {
      int sig = 0;
      sigwait(&signals, &sig);
      std::fprintf(stderr, "{\"time\":\"%s\",\"event\":\"draining\",\"signal\":%d}\n", iso_time().c_str(), sig);
      draining_ = true;
      http_.stop();  // no new connections; requests in flight finish (the pool drains)
    });
    ready_ = true;
    const bool ok = http_.listen_after_bind();
    if (!draining_) {  // listen failed on its own: wake the signal thread
      pthread_kill(signal_waiter.native_handle(), SIGTERM);
    }
    signal_waiter.join();
    std::fprintf(stderr, "{\"time\":\"%s\",\"event\":\"stopped\"}\n", iso_time().c_str());
    return ok || draining_ ? 0 : 1;
  }

 private:
  struct Log {
    std::string model, modalities;
    size_t items = 0;
    double prepare_ms = 0, wait_ms = 0;  // decoding + preprocessing; queue + inference
  };

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
  }

  void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    json body = {{"error", {{"message", e.message}, {"type", e.type}, {"param", e.param.empty() ? json(nullptr) : json(e.param)}}}};
    res.set_content(body.dump(), "application/json");
    if (e.status == 503) res.set_header("Retry-After", "1");
  }

  void finish(const httplib::Request& req, const httplib::Response& res, const Log& log, Clock::time_point start) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const int code = res.status == -1 ? 200 : res.status;  // httplib fills in 200 after the handler
    const std::string status = std::to_string(code);
    const std::string modality = log.modalities.empty() ? "none" : log.modalities;
    metrics_.add("clipclap_requests_total", {{"route", req.path}, {"model", log.model}, {"modality", modality}, {"status", status}});
    if (code >= 400)
      metrics_.add("clipclap_request_errors_total", {{"route", req.path}, {"model", log.model}, {"modality", modality},
                                                     {"status", status}, {"type", error_type(code)}});
    metrics_.observe("clipclap_request_duration_seconds", {{"route", req.path}}, seconds);
    json line = {{"time", iso_time()}, {"remote", req.remote_addr}, {"method", req.method}, {"path", req.path},
                 {"status", code}, {"model", log.model}, {"items", log.items}, {"modalities", log.modalities},
                 {"bytes_in", req.body.size()}, {"ms", std::round(seconds * 1e4) / 10},
                 {"prepare_ms", std::round(log.prepare_ms * 10) / 10}, {"wait_ms", std::round(log.wait_ms * 10) / 10}};
    std::fprintf(stderr, "%s\n", line.dump().c_str());  // never the body
  }

  bool authorised(const httplib::Request& req) const {
    if (opts_.api_key.empty()) return true;
    std::string given = req.get_header_value("Authorization");
    if (given.rfind("Bearer ", 0) == 0) given = given.substr(7);
    else given = req.get_header_value("X-API-Key");
    return !given.empty() && same_key(given, opts_.api_key);
  }

  // The embed routes' work; fills `res` and `log`.
  void embed(const httplib::Request& req, httplib::Response& res, Api api, Log& log, Clock::time_point start) {
    const auto deadline = start + std::chrono::seconds(opts_.timeout_s);
    metrics_.add("clipclap_received_bytes_total", {{"route", req.path}}, static_cast<double>(req.body.size()));
    if (!authorised(req)) return send_error(res, {401, "missing or wrong API key (Authorization: Bearer KEY)", "authentication_error", ""});
    // Parsing, decoding and preprocessing are CPU work: at most one request per core at a time.
    // Parsing inside the slot also keeps waiting requests' decoded media out of memory.
    Batcher::Announcement coming(&batcher_);  // batches wait for this request's items
    PrepareSlot slot(prepare_slots_);
    thread_local const bool serial = (run_serially_on_this_thread(), true);  // inference owns the cores
    (void)serial;
    EmbedRequest request;
    if (auto e = parse_embed_request(req.body, api, opts_.parse, &request)) return send_error(res, *e);
    std::set<std::string> kinds;
    for (const auto& it : request.items) kinds.insert(modality_name(it.modality));
    for (const auto& k : kinds) log.modalities += (log.modalities.empty() ? "" : ",") + k;
    log.items = request.items.size();

    if (request.model.empty()) {
      if (models_.size() != 1) return send_error(res, bad_request("model is required (GET /v1/models lists them)", "model"));
      request.model = models_[0].name;
    }
    auto found = lookup_.find(request.model);
    if (found == lookup_.end())
      return send_error(res, {404, "model '" + request.model + "' is not served here (GET /v1/models lists them)", "not_found_error", "model"});
    const ServedModel& served = models_[found->second];
    log.model = served.name;
    const Embedder& model = *served.model;
    const Capabilities caps = model.info().caps;
    for (size_t i = 0; i < request.items.size(); ++i) {
      const Modality m = request.items[i].modality;
      if ((m == Modality::kText && !caps.text) || (m == Modality::kImage && !caps.image) || (m == Modality::kAudio && !caps.audio))
        return send_error(res, {422, "input[" + std::to_string(i) + "]: model '" + served.name + "' (" + model_kind_name(model.info().kind) +
                                         ") embeds " + capabilities_string(caps) + ", not " + modality_name(m),
                                "unsupported_modality", "input"});
    }
    if (request.dimensions && *request.dimensions != model.dim())
      return send_error(res, bad_request("dimensions must be " + std::to_string(model.dim()) + " for model '" + served.name +
                                             "' (its vectors are not truncated)", "dimensions"));

    std::vector<Modality> modalities;
    for (const auto& it : request.items) modalities.push_back(it.modality);
    coming.items(served.name, modalities);
    std::vector<Prepared> prepared(request.items.size());
    size_t tokens = 0;
    const auto prepare_start = Clock::now();
    for (size_t i = 0; i < request.items.size(); ++i) {
      const std::string param = request.input_is_list ? "input[" + std::to_string(i) + "]" : "input";
      if (auto e = prepare_item(model, request.items[i], param, request.truncate, opts_.prepare, &prepared[i])) return send_error(res, *e);
      tokens += prepared[i].ids.size();
      std::vector<uint8_t>().swap(request.items[i].bytes);  // the encoded file is not needed while the request waits
    }
    slot.release();
    const auto queued_at = Clock::now();
    log.prepare_ms = std::chrono::duration<double, std::milli>(queued_at - prepare_start).count();
    auto job = std::make_shared<Job>(prepared.size());
    const bool queued = batcher_.submit(served.name, job, std::move(prepared));
    coming.delivered();
    if (!queued) return send_error(res, {503, "the queue is full; retry shortly", "server_overloaded", ""});
    const ConnectionWatch watch(req.remote_addr, req.remote_port);
    const Job::Outcome outcome = job->wait(deadline, [&] { return watch.gone(); });
    log.wait_ms = std::chrono::duration<double, std::milli>(Clock::now() - queued_at).count();
    switch (outcome) {
      case Job::Outcome::kTimeout:
        return send_error(res, {504, "not done within " + std::to_string(opts_.timeout_s) + " s", "timeout_error", ""});
      case Job::Outcome::kCancelled:
        res.status = 499;  // nginx's "client closed request": nobody reads it, the log and metrics do
        return;
      case Job::Outcome::kDone:
        break;
    }
    if (!job->error.empty()) return send_error(res, {500, job->error, "server_error", ""});

    const int dim = model.dim();
    if (api == Api::kOllama && req.get_header_value("Accept").find("application/octet-stream") != std::string::npos) {
      std::string bin(16, '\0');
      const uint64_t count = job->vectors.size(), d = static_cast<uint64_t>(dim);
      std::memcpy(bin.data(), &count, 8);  // little-endian on every platform this builds on
      std::memcpy(bin.data() + 8, &d, 8);
      for (const auto& v : job->vectors) bin.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
      res.set_content(bin, "application/octet-stream");
      return;
    }
    std::string out;
    if (api == Api::kOllama) {
      out = "{\"model\":" + json(served.name).dump() + ",\"embeddings\":[";
      for (size_t i = 0; i < job->vectors.size(); ++i) {
        if (i) out += ',';
        append_floats(out, job->vectors[i]);
      }
      out += "]}";
    } else {
      out = "{\"object\":\"list\",\"data\":[";
      for (size_t i = 0; i < job->vectors.size(); ++i) {
        out += (i ? "," : "") + std::string("{\"object\":\"embedding\",\"index\":") + std::to_string(i) + ",\"embedding\":";
        if (request.base64) out += "\"" + base64_encode(job->vectors[i].data(), job->vectors[i].size() * 4) + "\"";
        else append_floats(out, job->vectors[i]);
        out += '}';
      }
      out += "],\"model\":" + json(served.name).dump() + ",\"usage\":{\"prompt_tokens\":" + std::to_string(tokens) +
             ",\"total_tokens\":" + std::to_string(tokens) + "}}";
    }
    res.set_content(out, "application/json");
  }

  json model_list(bool openai) const {
    json data = json::array();
    for (const auto& m : models_) {
      const ModelInfo& info = m.model->info();
      json caps = json::array();
      for (auto [on, name] : {std::pair{info.caps.text, "text"}, std::pair{info.caps.image, "image"}, std::pair{info.caps.audio, "audio"}})
        if (on) caps.push_back(name);
      json entry = {{"type", model_kind_name(info.kind)}, {"capabilities", caps}, {"dimension", m.model->dim()}};
      if (openai) entry.update({{"id", m.name}, {"object", "model"}, {"created", 0}, {"owned_by", "clipclap"}});
      else entry.update({{"name", m.name}, {"aliases", m.aliases}});
      data.push_back(entry);
    }
    return openai ? json{{"object", "list"}, {"data", data}} : json{{"models", data}};
  }

  void routes() {
    for (auto [path, api] : {std::pair{"/api/embed", Api::kOllama}, std::pair{"/v1/embeddings", Api::kOpenAI}}) {
      http_.Post(path, [this, api](const httplib::Request& req, httplib::Response& res) {
        const auto start = Clock::now();
        Log log;
        embed(req, res, api, log, start);
        finish(req, res, log, start);
      });
    }
    auto listing = [this](bool openai) {
      return [this, openai](const httplib::Request& req, httplib::Response& res) {
        const auto start = Clock::now();
        if (!authorised(req)) send_error(res, {401, "missing or wrong API key (Authorization: Bearer KEY)", "authentication_error", ""});
        else res.set_content(model_list(openai).dump(), "application/json");
        finish(req, res, {}, start);
      };
    };
    http_.Get("/v1/models", listing(true));
    http_.Get("/api/models", listing(false));
    http_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("{\"status\":\"ok\"}", "application/json"); });
    http_.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      const bool ready = ready_ && !draining_;
      res.status = ready ? 200 : 503;
      res.set_content(json{{"status", ready ? "ready" : "draining"}, {"models", models_.size()}}.dump(), "application/json");
    });
    http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_.render(), "text/plain; version=0.0.4");
    });
    // Statuses httplib sets itself (unknown route, body too large, unreadable request) get the
    // same JSON error shape, a log line and a count.
    http_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty() || res.status == 499) return;
      const auto start = Clock::now();
      const bool form = req.get_header_value("Content-Type").find("application/x-www-form-urlencoded") != std::string::npos;
      std::string message = res.status == 413 && form ? "send the body with Content-Type: application/json (httplib limits form-encoded bodies to 8 KB)"
                            : res.status == 413 ? "the body exceeds this server's limit of " + std::to_string(opts_.max_body_bytes) + " bytes"
                            : res.status == 404 ? "no route " + req.method + " " + req.path
                                                : "bad request";
      send_error(res, {res.status, message, error_type(res.status), ""});
      finish(req, res, {}, start);
    });
  }

  ServerOptions opts_;
  std::vector<ServedModel> models_;
  std::map<std::string, size_t> lookup_;
  Metrics metrics_;
  Batcher batcher_;
  httplib::Server http_;
  PrepareSlots prepare_slots_;
  std::atomic<bool> ready_{false}, draining_{false};
};

}  // namespace

sigset_t block_shutdown_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
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
