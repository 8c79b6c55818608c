#include "bundle/http_client.h"

#include <curl/curl.h>

#include <cctype>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <mutex>

namespace cc {

namespace {

struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  CURL* curl = nullptr;
  FILE* file = nullptr;
  bool decided = false, to_file = false;
  uint64_t resume_from = 0;
  FILE* upload = nullptr;
  uint64_t upload_left = 0;
  std::string error;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) t->response->headers.clear();  // a new response (after a redirect)
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
    t->response->headers[name] = value;
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (!t->decided) {  // the final response's status is known once its body starts
    t->decided = true;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    t->to_file = t->file && status >= 200 && status < 300;
    if (t->to_file && t->resume_from > 0 && status == 200) {  // the server ignored our Range: start over
      if (std::fflush(t->file) != 0 || ftruncate(fileno(t->file), 0) != 0 || std::fseek(t->file, 0, SEEK_SET) != 0) {
        t->error = "cannot restart " + t->request->download_path;
        return 0;
      }
    }
  }
  if (t->to_file) {
    if (std::fwrite(data, 1, bytes, t->file) != bytes) {
      t->error = "cannot write " + t->request->download_path + " (disk full?)";
      return 0;
    }
    return bytes;
  }
  if (t->request->max_body_bytes && t->response->body.size() + bytes > t->request->max_body_bytes) {
    t->error = "the response is larger than " + std::to_string(t->request->max_body_bytes) + " bytes";
    return 0;
  }
  if (t->response->body.size() < (t->file ? 65536u : (1u << 30))) t->response->body.append(data, bytes);
  return bytes;
}

size_t on_upload(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t want = std::min<uint64_t>(size * n, t->upload_left);
  const size_t got = std::fread(buffer, 1, want, t->upload);
  t->upload_left -= got;
  return got;
}

int on_progress(void* user, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total, curl_off_t ul_now) {
  auto* t = static_cast<Transfer*>(user);
  if (t->request->on_progress) t->request->on_progress(static_cast<uint64_t>(dl_now + ul_now));
  return 0;
}

std::string host_of(const std::string& url) {
  const size_t start = url.find("://");
  const size_t from = start == std::string::npos ? 0 : start + 3;
  return url.substr(from, url.find('/', from) - from);
}

}  // namespace

std::string url_encode_path(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

Result<HttpResponse> http_request(const HttpRequest& request) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return error("libcurl could not start");
  HttpResponse response;
  Transfer t;
  t.request = &request;
  t.response = &response;
  t.curl = curl.get();

  std::unique_ptr<FILE, int (*)(FILE*)> file(nullptr, std::fclose), upload(nullptr, std::fclose);
  if (!request.download_path.empty()) {
    file.reset(std::fopen(request.download_path.c_str(), "ab"));
    if (!file) return error("cannot open " + request.download_path + " for writing");
    t.file = file.get();
    t.resume_from = static_cast<uint64_t>(std::ftell(file.get()));
    if (t.resume_from > 0) curl_easy_setopt(curl.get(), CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t.resume_from));
  }
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(headers, curl_slist_free_all);

  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);  // the hub redirects to its CDN
  if (request.timeout_s > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT, request.timeout_s);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);       // (curl drops Authorization on a host change)
  curl_easy_setopt(c, CURLOPT_USERAGENT, "clipclap/0.1");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer fails after 60 s
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  if (!request.upload_path.empty()) {
    upload.reset(std::fopen(request.upload_path.c_str(), "rb"));
    if (!upload || std::fseek(upload.get(), static_cast<long>(request.upload_offset), SEEK_SET) != 0)
      return error("cannot read " + request.upload_path);
    t.upload = upload.get();
    t.upload_left = request.upload_size;
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(c, CURLOPT_READDATA, &t);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.upload_size));
  } else if (request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  if (request.method != "GET" && request.method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());

  const CURLcode rc = curl_easy_perform(c);
  if (!t.error.empty()) return error(t.error);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  if (rc == CURLE_RANGE_ERROR || (rc == CURLE_HTTP_RETURNED_ERROR && response.status == 416)) response.status = 416;
  else if (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_OPERATION_TIMEDOUT)
    return error("connection to " + host_of(request.url) + " was cut (" + curl_easy_strerror(rc) +
                 "); run the command again to resume");
  else if (rc != CURLE_OK)
    return error("cannot reach " + host_of(request.url) + ": " + curl_easy_strerror(rc) +
                 (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT ? " (offline? HF_ENDPOINT selects another hub)" : ""));
  return response;
}

}  // namespace cc
