// Fuzz target: one image decoder (CLIPCLAP_FUZZ_DECODER, set per target in CMake), feeding both
// the CLIP preprocessor's streaming resizer and a whole-image sink, with small limits and a
// memory budget.
#include <cstddef>
#include <cstdint>

#include "vision/clip_image_preprocess.h"
#include "vision/decode_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cc::MemoryBudget budget(64 << 20);
  cc::ImageLimits limits;
  limits.max_pixels = 1 << 22;
  limits.budget = &budget;
  cc::ClipImagePreprocessConfig config;
  config.shortest_edge = 32;
  config.crop_height = config.crop_width = 32;
  cc::ClipImageSink sink(config, &budget);
  if (CLIPCLAP_FUZZ_DECODER(data, size, limits, sink).ok()) (void)sink.finish();
  (void)cc::decode_image(data, size, limits);
  return 0;
}
