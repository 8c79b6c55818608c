// Fuzz target: embed --manifest's manifests (read_manifest), the same bytes read as JSONL and
// as CSV (the reader goes by the extension, so they are written to two files).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "train/datasets.h"

namespace {

void read_as(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  const bool written = std::fwrite(data, 1, size, f) == size;
  std::fclose(f);
  if (written) (void)cc::read_manifest(path);
  std::remove(path.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string base = "/tmp/clipclap-fuzz-manifest-" + std::to_string(getpid());
  read_as(base + ".jsonl", data, size);
  read_as(base + ".csv", data, size);
  return 0;
}
