// Scaled dot-product attention over many heads at once, as in HF's eager attention:
// softmax(q·kᵀ · scale + mask) · v, with both products run as one strided batched matmul.
#pragma once

#include <cstdint>

namespace cc {

struct AttentionShape {
  int batch = 0, seq = 0, heads = 0, head_dim = 0;
};

struct AttentionMask {
  bool causal = false;                // query i sees keys 0..i (CLIP's text tower)
  const int* key_lengths = nullptr;   // per batch item: keys at or past this are padding
  const float* head_bias = nullptr;   // [heads, seq, seq] added for every item (Swin's relative position bias)
  const float* group_bias = nullptr;  // [groups, seq, seq]; item b adds group b % groups (Swin's shifted-window mask)
  int groups = 0;
};

// q, k, v and out are [batch, seq, heads * head_dim] (heads interleaved as nn.Linear leaves them).
void attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale,
               const AttentionMask& mask = {});

}  // namespace cc
