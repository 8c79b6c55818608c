#include "core/encoder_layer.h"

#include <cmath>
#include "core/scratch.h"

namespace cc {

Result<EncoderLayer> load_encoder_layer(SafeTensors& w, const std::string& p, const EncoderConfig& c) {
  EncoderLayer l;
  CC_TRY(l.layer_norm1, load_layer_norm(w, p + ".layer_norm1", c.hidden, c.eps));
  CC_TRY(l.q_proj, load_linear(w, p + ".self_attn.q_proj", c.hidden, c.hidden, true, &l.layer_norm1));
  CC_TRY(l.k_proj, load_linear(w, p + ".self_attn.k_proj", c.hidden, c.hidden, true, &l.layer_norm1));
  CC_TRY(l.v_proj, load_linear(w, p + ".self_attn.v_proj", c.hidden, c.hidden, true, &l.layer_norm1));
  CC_TRY(l.out_proj, load_linear(w, p + ".self_attn.out_proj", c.hidden, c.hidden, true));
  CC_TRY(l.layer_norm2, load_layer_norm(w, p + ".layer_norm2", c.hidden, c.eps));
  CC_TRY(l.fc1, load_linear(w, p + ".mlp.fc1", c.hidden, c.intermediate, true, &l.layer_norm2));
  CC_TRY(l.fc2, load_linear(w, p + ".mlp.fc2", c.intermediate, c.hidden, true));
  return l;
}

void encoder_layer(const EncoderLayer& l, const EncoderConfig& c, float* x, int batch, int seq,
                   const AttentionMask& mask) {
  const int64_t rows = static_cast<int64_t>(batch) * seq;
  const int64_t n = rows * c.hidden;
  Scratch h(n), q(n), k(n), v(n), ctx(n);

  layer_norm(l.layer_norm1, x, rows, h.data());
  linear(l.q_proj, h.data(), rows, q.data());
  linear(l.k_proj, h.data(), rows, k.data());
  linear(l.v_proj, h.data(), rows, v.data());
  const int head_dim = c.hidden / c.heads;
  attention(q.data(), k.data(), v.data(), ctx.data(), {batch, seq, c.heads, head_dim},
            1.0f / std::sqrt(static_cast<float>(head_dim)), mask);
  linear(l.out_proj, ctx.data(), rows, h.data());
  add_inplace(x, h.data(), n);

  layer_norm(l.layer_norm2, x, rows, h.data());
  Scratch mlp(rows * c.intermediate);
  linear(l.fc1, h.data(), rows, mlp.data());
  activate(c.act, mlp.data(), static_cast<int64_t>(mlp.size()));
  linear(l.fc2, mlp.data(), rows, h.data());
  add_inplace(x, h.data(), n);
}

}  // namespace cc
