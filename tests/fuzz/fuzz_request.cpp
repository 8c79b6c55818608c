// Fuzz target: the request body parser of every API shape (OpenAI's, the Go server's, antfly's,
// Weaviate's lists; JSON events, content parts, data: URIs, base64), with a memory budget. A libFuzzer entry point, as every target here.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/base64.h"
#include "server/api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cc::ParseLimits limits;
  limits.max_items = 16;
  limits.allow_fetch = size % 2 == 0;
  cc::MemoryBudget budget(1 << 20);
  for (cc::Api api : {cc::Api::kOllama, cc::Api::kOpenAI, cc::Api::kAntfly, cc::Api::kWeaviate}) {
    cc::EmbedRequest request;
    cc::MemoryBudget::Hold hold(&budget);
    (void)cc::parse_embed_request(text, api, limits, &request, &hold);
  }
  (void)cc::base64_decode(std::string(text));
  return 0;
}
