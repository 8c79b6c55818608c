#include "text/clap_text_tower.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/attention.h"
#include "core/config.h"
#include "core/scratch.h"
#include "text/token_batch.h"

namespace cc {

Result<ClapTextConfig> read_clap_text_config(const nlohmann::json& clap_config) {
  CC_TRY(nlohmann::json t, config_section(clap_config, "text_config"));
  ClapTextConfig c;
  CC_TRY(c.vocab_size, config_int(t, "vocab_size", 50265));
  CC_TRY(c.hidden, config_int(t, "hidden_size", 768));
  CC_TRY(c.layers, config_int(t, "num_hidden_layers", 12));
  CC_TRY(c.heads, config_int(t, "num_attention_heads", 12));
  CC_TRY(c.intermediate, config_int(t, "intermediate_size", 3072));
  CC_TRY(c.max_positions, config_int(t, "max_position_embeddings", 514));
  CC_TRY(c.type_vocab_size, config_int(t, "type_vocab_size", 1));
  CC_TRY(c.pad_token_id, config_int(t, "pad_token_id", 1));
  CC_TRY(c.eps, config_float(t, "layer_norm_eps", 1e-12f));
  CC_TRY(std::string act, config_string(t, "hidden_act", "gelu"));
  CC_TRY(c.act, parse_activation(act));
  CC_TRY(std::string kind, config_string(t, "position_embedding_type", "absolute"));
  if (kind != "absolute") return error("text_config: position_embedding_type '" + kind + "' is not supported");
  // ClapConfig copies its top-level projection settings into text_config.
  CC_TRY(c.projection_dim, config_int(clap_config, "projection_dim", 512));
  CC_TRY(std::string pact, config_string(clap_config, "projection_hidden_act", "relu"));
  CC_TRY(c.projection_act, parse_activation(pact));
  if (c.hidden <= 0 || c.heads <= 0 || c.hidden % c.heads != 0 || c.layers < 0 || c.intermediate <= 0 ||
      c.vocab_size <= 0 || c.type_vocab_size <= 0 || c.pad_token_id < 0 || c.max_positions <= 0 || c.max_tokens() < 2)
    return error("text_config: inconsistent sizes");
  return c;
}

Result<ClapTextTower> ClapTextTower::load(SafeTensors& w, const ClapTextConfig& c) {
  ClapTextTower t;
  t.c_ = c;
  const int d = c.hidden;
  const std::string e = "text_model.embeddings.";
  CC_TRY(t.word_, w.get(e + "word_embeddings.weight", {c.vocab_size, d}));
  CC_TRY(t.position_, w.get(e + "position_embeddings.weight", {c.max_positions, d}));
  CC_TRY(t.token_type_, w.get(e + "token_type_embeddings.weight", {c.type_vocab_size, d}));
  CC_TRY(t.embedding_norm_, load_layer_norm(w, e + "LayerNorm", d, c.eps));
  for (int i = 0; i < c.layers; ++i) {
    const std::string p = "text_model.encoder.layer." + std::to_string(i) + ".";
    Layer l;
    // post-LN: the layer reads the norm that ended the one before
    const LayerNorm* input_norm = i == 0 ? &t.embedding_norm_ : &t.layers_.back().output_norm;
    CC_TRY(l.query, load_linear(w, p + "attention.self.query", d, d, true, input_norm));
    CC_TRY(l.key, load_linear(w, p + "attention.self.key", d, d, true, input_norm));
    CC_TRY(l.value, load_linear(w, p + "attention.self.value", d, d, true, input_norm));
    CC_TRY(l.attention_out, load_linear(w, p + "attention.output.dense", d, d, true));
    CC_TRY(l.attention_norm, load_layer_norm(w, p + "attention.output.LayerNorm", d, c.eps));
    CC_TRY(l.intermediate, load_linear(w, p + "intermediate.dense", d, c.intermediate, true, &l.attention_norm));
    CC_TRY(l.output, load_linear(w, p + "output.dense", c.intermediate, d, true));
    CC_TRY(l.output_norm, load_layer_norm(w, p + "output.LayerNorm", d, c.eps));
    t.layers_.push_back(l);
  }
  CC_TRY(t.pooler_, load_fp32_linear(w, "text_model.pooler.dense", d, d, true));
  CC_TRY(t.projection_, load_projection_head(w, "text_projection", d, c.projection_dim, c.projection_act));
  return t;
}

Result<Embeddings> ClapTextTower::embed(const std::vector<std::vector<int32_t>>& batch) const {
  const int n = static_cast<int>(batch.size()), d = c_.hidden;
  Embeddings out;
  out.count = n;
  out.dim = c_.projection_dim;
  if (n == 0) return out;
  CC_TRY(TokenBatch tokens, check_token_batch(batch, c_.vocab_size, c_.max_tokens()));
  const int seq = tokens.longest;
  std::vector<int>& lengths = tokens.lengths;

  // Embeddings. create_position_ids_from_input_ids: non-padding tokens count up from
  // padding_idx + 1; a literal <pad> in the text keeps position padding_idx.
  const int64_t rows = static_cast<int64_t>(n) * seq;
  Scratch x(rows * d, 0.0f);
  for (int b = 0; b < n; ++b) {
    int counted = 0;
    for (int t = 0; t < lengths[b]; ++t) {
      const int32_t id = batch[b][t];
      const int pos = id == c_.pad_token_id ? c_.pad_token_id : c_.pad_token_id + ++counted;
      float* row = x.data() + (static_cast<int64_t>(b) * seq + t) * d;
      const float* w = word_.data + static_cast<int64_t>(id) * d;
      const float* p = position_.data + static_cast<int64_t>(pos) * d;
      for (int i = 0; i < d; ++i) row[i] = w[i] + token_type_.data[i] + p[i];
    }
  }
  layer_norm(embedding_norm_, x.data(), rows, x.data());

  // Post-LN layers (BERT): x = LN(x + attention(x)); x = LN(x + output(act(intermediate(x)))).
  AttentionMask mask;
  mask.key_lengths = lengths.data();
  const int head_dim = d / c_.heads;
  Scratch q(rows * d), k(rows * d), v(rows * d), ctx(rows * d), h(rows * d), mid(rows * c_.intermediate);
  for (const Layer& l : layers_) {
    linear(l.query, x.data(), rows, q.data());
    linear(l.key, x.data(), rows, k.data());
    linear(l.value, x.data(), rows, v.data());
    attention(q.data(), k.data(), v.data(), ctx.data(), {n, seq, c_.heads, head_dim},
              1.0f / std::sqrt(static_cast<float>(head_dim)), mask);
    linear(l.attention_out, ctx.data(), rows, h.data());
    add_inplace(h.data(), x.data(), rows * d);
    layer_norm(l.attention_norm, h.data(), rows, h.data());
    linear(l.intermediate, h.data(), rows, mid.data());
    activate(c_.act, mid.data(), rows * c_.intermediate);
    linear(l.output, mid.data(), rows, x.data());
    add_inplace(x.data(), h.data(), rows * d);
    layer_norm(l.output_norm, x.data(), rows, x.data());
  }

  // Pooler: tanh(dense(first token)); then the projection and L2.
  std::vector<float> first(static_cast<size_t>(n) * d), pooled(static_cast<size_t>(n) * d);
  for (int b = 0; b < n; ++b)
    std::memcpy(first.data() + static_cast<size_t>(b) * d, x.data() + static_cast<int64_t>(b) * seq * d, d * sizeof(float));
  linear(pooler_, first.data(), n, pooled.data());
  for (float& p : pooled) p = std::tanh(p);
  out.values.resize(static_cast<size_t>(n) * out.dim);
  projection_head(projection_, pooled.data(), n, out.values.data());
  return out;
}

}  // namespace cc
