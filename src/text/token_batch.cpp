#include "text/token_batch.h"

#include <algorithm>
#include <string>

namespace cc {

Result<TokenBatch> check_token_batch(const std::vector<std::vector<int32_t>>& batch, int vocab_size, int max_tokens) {
  TokenBatch t;
  for (size_t b = 0; b < batch.size(); ++b) {
    const int n = static_cast<int>(batch[b].size());
    if (n == 0 || n > max_tokens)
      return error("text " + std::to_string(b) + ": " + std::to_string(n) + " tokens (1 to " + std::to_string(max_tokens) +
                   " allowed)");
    for (int32_t id : batch[b])
      if (id < 0 || id >= vocab_size)
        return error("text " + std::to_string(b) + ": token id " + std::to_string(id) + " outside the vocabulary");
    t.lengths.push_back(n);
    t.longest = std::max(t.longest, n);
  }
  return t;
}

}  // namespace cc
