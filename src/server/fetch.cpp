#include "server/fetch.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

#include <curl/curl.h>

namespace cc {

namespace {

// An address as 16 bytes: IPv6, or IPv4 mapped into ::ffff:0:0/96, so one comparison serves both.
struct Ip {
  std::array<uint8_t, 16> b{};
  bool v4() const { return std::all_of(b.begin(), b.begin() + 10, [](uint8_t x) { return x == 0; }) && b[10] == 0xFF && b[11] == 0xFF; }
};

std::optional<Ip> parse_ip(const std::string& text) {
  Ip ip;
  in_addr a4;
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    ip.b[10] = ip.b[11] = 0xFF;
    std::memcpy(ip.b.data() + 12, &a4, 4);
    return ip;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
    std::memcpy(ip.b.data(), &a6, 16);
    return ip;
  }
  return std::nullopt;
}

std::string ip_text(const Ip& ip) {
  char buf[INET6_ADDRSTRLEN];
  if (ip.v4()) return inet_ntop(AF_INET, ip.b.data() + 12, buf, sizeof buf);
  return inet_ntop(AF_INET6, ip.b.data(), buf, sizeof buf);
}

struct Range {
  Ip base;
  int bits = 128;  // prefix length over the 16 bytes
  bool contains(const Ip& ip) const {
    for (int i = 0; i < bits; ++i)
      if (((ip.b[i / 8] ^ base.b[i / 8]) >> (7 - i % 8)) & 1) return false;
    return true;
  }
};

// "a.b.c.d", "a.b.c.d/n", "x::y", "x::/n".
std::optional<Range> parse_range(const std::string& text) {
  const size_t slash = text.find('/');
  auto ip = parse_ip(text.substr(0, slash));
  if (!ip) return std::nullopt;
  Range r{*ip, 128};
  if (slash != std::string::npos) {
    const std::string n = text.substr(slash + 1);
    if (n.empty() || n.size() > 3 || !std::all_of(n.begin(), n.end(), ::isdigit)) return std::nullopt;
    const int bits = std::stoi(n), max = ip->v4() ? 32 : 128;
    if (bits > max) return std::nullopt;
    r.bits = ip->v4() ? 96 + bits : bits;
  }
  return r;
}

Range range_of(const char* text) { return *parse_range(text); }

bool loopback(const Ip& ip) {
  static const Range v4 = range_of("127.0.0.0/8"), v6 = range_of("::1");
  return v4.contains(ip) || v6.contains(ip);
}

// Addresses that are not on the public internet: reachable only through an entry naming them.
bool internal(const Ip& ip) {
  static const std::vector<Range> ranges = [] {
    std::vector<Range> r;
    for (const char* t : {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
                          "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10",
                          "ff00::/8", "64:ff9b::/96", "2001:db8::/32"})
      r.push_back(range_of(t));
    return r;
  }();
  return std::any_of(ranges.begin(), ranges.end(), [&](const Range& r) { return r.contains(ip); });
}

std::string lower_host(std::string h) {
  for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!h.empty() && h.back() == '.') h.pop_back();
  return h;
}

std::string shown(const std::string& url) { return url.size() > 200 ? url.substr(0, 200) + "..." : url; }

std::string url_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* v = nullptr;
  if (curl_url_get(u, part, &v, flags) != CURLUE_OK || !v) return "";
  std::string s(v);
  curl_free(v);
  return s;
}

using UrlHandle = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;

// Parses and checks `url`; the parsed handle is what libcurl later fetches.
Result<FetchTarget> check(const std::string& url, const FetchPolicy& policy, UrlHandle& handle) {
  auto refuse = [&](const std::string& why) { return error("URL " + shown(url) + ": " + why); };
  if (url.size() > 8192) return refuse("longer than 8192 characters");
  for (unsigned char c : url)
    if (c <= 0x20 || c == 0x7F) return refuse("holds a space or control character (percent-encode it)");
  if (curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return refuse("not a valid URL");
  FetchTarget t;
  t.scheme = lower_host(url_part(handle.get(), CURLUPART_SCHEME));
  if (t.scheme != "http" && t.scheme != "https") return refuse("only http and https URLs are fetched");
  if (!url_part(handle.get(), CURLUPART_USER).empty() || !url_part(handle.get(), CURLUPART_PASSWORD).empty())
    return refuse("credentials in URLs are not accepted");
  if (!url_part(handle.get(), CURLUPART_ZONEID).empty()) return refuse("IPv6 zone identifiers are not accepted");
  std::string host = lower_host(url_part(handle.get(), CURLUPART_HOST));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return refuse("no host");
  t.host = host;
  const std::string port = url_part(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  t.port = port.empty() ? 0 : std::atoi(port.c_str());
  if (t.port <= 0 || t.port > 65535) return refuse("no valid port");

  // Which entries allow this host by name, and which addresses the IP entries allow.
  const bool literal = parse_ip(host).has_value();
  bool by_name = false, localhost = false;
  std::vector<Range> ranges;
  for (const auto& entry : policy.allow) {
    if (auto r = parse_range(entry)) {
      ranges.push_back(*r);
      continue;
    }
    const std::string name = lower_host(entry);
    if (!literal && (host == name || (host.size() > name.size() && host.ends_with("." + name)))) {
      by_name = true;
      localhost |= name == "localhost";
    }
  }
  if (!by_name && ranges.empty()) return refuse("its host " + host + " is not in this server's --allow-fetch list");

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = literal ? AI_NUMERICHOST : 0;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) return refuse("cannot resolve " + host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  std::string refused;
  for (const addrinfo* a = found; a; a = a->ai_next) {
    Ip ip;
    if (a->ai_family == AF_INET) {
      ip.b[10] = ip.b[11] = 0xFF;
      std::memcpy(ip.b.data() + 12, &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr, 4);
    } else if (a->ai_family == AF_INET6) {
      std::memcpy(ip.b.data(), &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    const bool listed = std::any_of(ranges.begin(), ranges.end(), [&](const Range& r) { return r.contains(ip); });
    const bool named = by_name && (!internal(ip) || (localhost && loopback(ip)));
    if (listed || named) {
      t.address = ip_text(ip);
      return t;
    }
    if (refused.empty()) refused = ip_text(ip);
  }
  if (!by_name) return refuse("its host " + host + " is not in this server's --allow-fetch list");
  return refuse(host + " resolves to " + (refused.empty() ? "no address" : refused) +
                ", an internal address; list it (or its range) in --allow-fetch to allow it");
}

struct Transfer {
  std::vector<uint8_t> body;
  MemoryBudget::Hold* hold;
  uint64_t max_bytes;
  std::string failure;
  sockaddr_storage pinned{};
  socklen_t pinned_len = 0;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (t->body.size() + bytes > t->max_bytes) {
    t->failure = "the response is larger than " + std::to_string(t->max_bytes) + " bytes";
    return 0;
  }
  if (auto st = t->hold->resize(t->body.size() + bytes, "fetched media"); !st.ok()) {
    t->failure = st.error().message;
    return 0;
  }
  t->body.insert(t->body.end(), data, data + bytes);
  return bytes;
}

// The last word on where libcurl connects: the address that was checked, or nothing.
curl_socket_t open_socket(void* user, curlsocktype, curl_sockaddr* a) {
  const auto* t = static_cast<const Transfer*>(user);
  const bool same = a->family == t->pinned.ss_family &&
                    (a->family == AF_INET
                         ? std::memcmp(&reinterpret_cast<const sockaddr_in*>(&a->addr)->sin_addr,
                                       &reinterpret_cast<const sockaddr_in*>(&t->pinned)->sin_addr, 4) == 0
                         : std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&a->addr)->sin6_addr,
                                       &reinterpret_cast<const sockaddr_in6*>(&t->pinned)->sin6_addr, 16) == 0);
  if (!same) return CURL_SOCKET_BAD;
  return socket(a->family, a->socktype, a->protocol);
}

}  // namespace

Status check_allow_entry(const std::string& entry) {
  if (entry.empty()) return error("empty --allow-fetch entry");
  if (parse_range(entry)) return Ok{};
  if (entry.find('/') != std::string::npos) return error("--allow-fetch entry '" + entry + "' is not a valid CIDR range");
  for (unsigned char c : entry)
    if (!std::isalnum(c) && c != '-' && c != '.' && c != '_')
      return error("--allow-fetch entry '" + entry + "' is not a host name, an IP address or a CIDR range");
  return Ok{};
}

Result<FetchTarget> check_fetch_url(const std::string& url, const FetchPolicy& policy) {
  UrlHandle handle(curl_url(), curl_url_cleanup);
  if (!handle) return error("out of memory", ErrorKind::kInternal);
  return check(url, policy, handle);
}

Result<std::vector<uint8_t>> fetch_url(const std::string& url, const FetchPolicy& policy, MemoryBudget::Hold& hold) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const auto start = std::chrono::steady_clock::now();
  UrlHandle handle(curl_url(), curl_url_cleanup);
  if (!handle) return error("out of memory", ErrorKind::kInternal);
  CC_TRY(FetchTarget target, check(url, policy, handle));

  Transfer t;
  t.hold = &hold;
  t.max_bytes = policy.max_bytes;
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* pinned = nullptr;
  if (getaddrinfo(target.address.c_str(), nullptr, &hints, &pinned) != 0 || !pinned) return error("URL " + shown(url) + ": internal address error", ErrorKind::kInternal);
  std::memcpy(&t.pinned, pinned->ai_addr, pinned->ai_addrlen);
  t.pinned_len = pinned->ai_addrlen;
  freeaddrinfo(pinned);

  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return error("libcurl could not start", ErrorKind::kInternal);
  CURL* c = curl.get();
  const bool v6 = target.address.find(':') != std::string::npos;
  const std::string resolve = target.host + ":" + std::to_string(target.port) + ":" + (v6 ? "[" + target.address + "]" : target.address);
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> resolves(curl_slist_append(nullptr, resolve.c_str()), curl_slist_free_all);
  const auto left = policy.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  if (left.count() <= 0) return error("fetching " + shown(url) + ": resolving its host took longer than the fetch's time limit");
  curl_easy_setopt(c, CURLOPT_CURLU, handle.get());  // the URL exactly as checked
  curl_easy_setopt(c, CURLOPT_RESOLVE, resolves.get());  // ... at the address checked
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &t);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // never through a proxy from the environment
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect could leave the allowed hosts
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(left.count(), 10000)));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(policy.max_bytes));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "clipclap");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  const CURLcode rc = curl_easy_perform(c);
  auto fail = [&](const std::string& why) { return error("fetching " + shown(url) + ": " + why); };
  if (!t.failure.empty()) return fail(t.failure);
  if (rc == CURLE_FILESIZE_EXCEEDED) return fail("the response is larger than " + std::to_string(policy.max_bytes) + " bytes");
  if (rc == CURLE_OPERATION_TIMEDOUT) return fail("no complete answer within " + std::to_string(policy.timeout.count() / 1000.0).substr(0, 4) + " s");
  if (rc != CURLE_OK) return fail(curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) return fail("the server answered HTTP " + std::to_string(status));
  return std::move(t.body);
}

}  // namespace cc
