// A batch of embedding vectors, row-major: `count` rows of `dim` floats.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace cc {

struct Embeddings {
  int64_t count = 0;
  int dim = 0;
  std::vector<float> values;

  const float* row(int64_t i) const { return values.data() + i * dim; }
};

// A vector as a JSON array, with 9 significant digits: enough for a float32 to round-trip.
inline void append_json_floats(std::string& out, const float* v, size_t n) {
  char buf[32];
  out += '[';
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, i ? ",%.9g" : "%.9g", v[i]);
    out += buf;
  }
  out += ']';
}

}  // namespace cc
