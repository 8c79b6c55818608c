#include "core/attention.h"

#include <algorithm>

#include "core/gemm.h"
#include "core/kernels.h"
#include "core/scratch.h"

namespace cc {

void attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale,
               const AttentionMask& mask) {
  const int64_t B = s.batch, H = s.heads, S = s.seq, Dh = s.head_dim, D = H * Dh;
  Scratch scores(static_cast<size_t>(B * H * S * S));

  // [B, S, H, Dh] seen as {B, H, S, Dh}: head h of item b starts at b*S*D + h*Dh.
  const std::array<int64_t, 4> head_major{S * D, Dh, D, 1};
  const std::array<int64_t, 4> head_major_t{S * D, Dh, 1, D};  // the same, transposed: kᵀ
  const std::array<int64_t, 4> dense{H * S * S, S * S, S, 1};

  batched_matmul({const_cast<float*>(q), {B, H, S, Dh}, head_major},
                 {const_cast<float*>(k), {B, H, Dh, S}, head_major_t},
                 {scores.data(), {B, H, S, S}, dense});

#pragma omp parallel for collapse(2) if (B * H * S * S >= 16384)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t key_len = mask.key_lengths ? std::clamp<int64_t>(mask.key_lengths[b], 1, S) : S;
      for (int64_t i = 0; i < S; ++i) {
        float* row = scores.data() + ((b * H + h) * S + i) * S;
        // Masked keys get exp(-inf) = 0 weight, exactly as HF's additive finfo.min mask does.
        const int64_t visible = std::min(mask.causal ? i + 1 : S, key_len);
        for (int64_t j = 0; j < visible; ++j) row[j] *= scale;
        if (mask.head_bias) {
          const float* hb = mask.head_bias + (h * S + i) * S;
          for (int64_t j = 0; j < visible; ++j) row[j] += hb[j];
        }
        if (mask.group_bias) {
          const float* gb = mask.group_bias + ((b % mask.groups) * S + i) * S;
          for (int64_t j = 0; j < visible; ++j) row[j] += gb[j];
        }
        softmax(row, static_cast<int>(visible));
        std::fill(row + visible, row + S, 0.0f);
      }
    }
  }

  batched_matmul({scores.data(), {B, H, S, S}, dense},
                 {const_cast<float*>(v), {B, H, S, Dh}, head_major},
                 {out, {B, H, S, Dh}, head_major});
}

}  // namespace cc
