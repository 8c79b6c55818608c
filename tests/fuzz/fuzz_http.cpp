// Fuzz target: a request line and headers as the server parses and checks them (Beast's parser
// and the server's own limits, control-character, Transfer- and Content-Encoding checks).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cc::HttpLimits limits;
  limits.max_header_bytes = 2048;
  limits.max_header_fields = 16;
  limits.max_body_bytes = 4096;
  cc::ServerRequest head;
  (void)cc::parse_request_head(std::string_view(reinterpret_cast<const char*>(data), size), limits, &head);
  return 0;
}
