// Fuzz target: model configuration as the loaders read it: one JSON document given to every
// config reader (CLIP text and vision, CLAP audio tower, text tower and feature extractor, the
// image preprocessor), and as a tokenizer.json to both tokenizers' loaders.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "audio/clap_features.h"
#include "audio/htsat_tower.h"
#include "text/clap_text_tower.h"
#include "text/clip_text_tower.h"
#include "text/clip_tokenizer.h"
#include "text/roberta_tokenizer.h"
#include "vision/clip_image_preprocess.h"
#include "vision/clip_vision_tower.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    (void)cc::read_clip_text_config(j);
    (void)cc::read_clip_vision_config(j);
    (void)cc::read_htsat_config(j);
    (void)cc::read_clap_text_config(j);
    (void)cc::read_clap_feature_config(j);
    (void)cc::read_clip_image_preprocess_config(j);
  }
  const int fd = memfd_create("tokenizer.json", 0);
  if (fd < 0) return 0;
  if (size == 0 || write(fd, data, size) == static_cast<ssize_t>(size)) {
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    if (auto t = cc::ClipTokenizer::load(path); t.ok()) (void)t->encode("a photo of a cat <|endoftext|>", 77);
    if (auto t = cc::RobertaTokenizer::load(path); t.ok()) (void)t->encode("a photo of a cat <mask>", 78);
  }
  close(fd);
  return 0;
}
