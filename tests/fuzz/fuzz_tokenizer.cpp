// Fuzz target: client text through one tokenizer (CLIPCLAP_FUZZ_TOKENIZER: ClipTokenizer or
// RobertaTokenizer, set per target in CMake) loaded from the fixtures, cut to the model's
// limit (only the start tokenized) and whole.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "text/clip_tokenizer.h"
#include "text/roberta_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tokenizer = cc::CLIPCLAP_FUZZ_TOKENIZER::load(CLIPCLAP_FUZZ_TOKENIZER_JSON).value();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)tokenizer.encode(text, 77);
  if (size < 4096) (void)tokenizer.encode(text, 1 << 30);
  return 0;
}
