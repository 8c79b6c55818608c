// Fuzz target: everything a client's bytes reach before a tower. The request parser (both
// APIs), base64, and the image and audio decoders with the server's limits. libFuzzer entry
// point; tests/fuzz/fuzz_driver.cpp runs it without clang (seeded mutations, in ctest).
#include <cstddef>
#include <cstdint>
#include <string>

#include "audio/decode_audio.h"
#include "core/base64.h"
#include "server/api.h"
#include "vision/decode_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  cc::ParseLimits limits;
  limits.max_items = 64;
  for (cc::Api api : {cc::Api::kOllama, cc::Api::kOpenAI}) {
    cc::EmbedRequest request;
    (void)cc::parse_embed_request(text, api, limits, &request);
  }
  (void)cc::base64_decode(text);
  cc::ImageLimits image_limits;
  image_limits.max_pixels = 1 << 22;
  (void)cc::decode_image(data, size, image_limits);
  cc::AudioLimits audio_limits;
  audio_limits.max_seconds = 30;
  (void)cc::decode_audio(data, size, audio_limits);
  return 0;
}
