// Fuzz target: a safetensors file (header JSON, dtypes, shapes, offsets) opened from memory
// through a memfd, every tensor then read as float (fp16/bf16 converted).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("fuzz.safetensors", 0);
  if (fd < 0) return 0;
  if (size > 0 && write(fd, data, size) != static_cast<ssize_t>(size)) {
    close(fd);
    return 0;
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  auto st = cc::SafeTensors::open(path, {""});
  if (st.ok())
    for (const auto& name : st->names()) (void)st->get(name);
  close(fd);
  return 0;
}
