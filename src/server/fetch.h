// Fetching http(s) media for the server (image_url / audio_url), only where the operator
// allowed (--allow-fetch). The URL is parsed once, by libcurl's URL API, and refused if it holds
// control characters or credentials; its host is resolved here, and the address checked is the
// one libcurl connects to (pinned: DNS cannot answer differently the second time). No
// redirects, no proxies from the environment, a size limit and a time limit.
//
// The allow-list holds names (a name allows itself and its subdomains, at their public
// addresses), IP addresses and CIDR ranges (which allow exactly those addresses, internal or
// not). `localhost` allows loopback. Loopback, private, link-local and other internal
// addresses are reached only through an entry that names them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/memory_budget.h"
#include "core/result.h"

namespace cc {

struct FetchPolicy {
  std::vector<std::string> allow;  // --allow-fetch entries
  uint64_t max_bytes = 32 << 20;
  std::chrono::milliseconds timeout{20000};  // for the whole fetch, resolving included
};

struct FetchTarget {
  std::string scheme, host;  // host as libcurl parsed it (IPv6 without brackets)
  int port = 0;
  std::string address;       // the checked address it will connect to
};

// The URL's refusal, or where a fetch of it connects. Resolves the host.
Result<FetchTarget> check_fetch_url(const std::string& url, const FetchPolicy& policy);

// The body of a 200 answer from the checked address; its bytes are taken from `hold`'s budget
// as they arrive. Errors name the URL (cut to 200 characters).
Result<std::vector<uint8_t>> fetch_url(const std::string& url, const FetchPolicy& policy, MemoryBudget::Hold& hold);

// An allow-list entry that is not a name, an IP address or a CIDR range.
Status check_allow_entry(const std::string& entry);

}  // namespace cc
