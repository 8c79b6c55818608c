// A batch of embedding vectors, row-major: `count` rows of `dim` floats.
#pragma once

#include <cstdint>
#include <vector>

namespace cc {

struct Embeddings {
  int64_t count = 0;
  int dim = 0;
  std::vector<float> values;

  const float* row(int64_t i) const { return values.data() + i * dim; }
};

}  // namespace cc
