// The checks both text towers make on a batch of token sequences before embedding it.
#pragma once

#include <cstdint>
#include <vector>

#include "core/result.h"

namespace cc {

struct TokenBatch {
  std::vector<int> lengths;
  int longest = 0;  // the batch is padded to this, not to the model's maximum
};

// Every sequence non-empty, at most `max_tokens` long, every id inside the vocabulary.
Result<TokenBatch> check_token_batch(const std::vector<std::vector<int32_t>>& batch, int vocab_size, int max_tokens);

}  // namespace cc
