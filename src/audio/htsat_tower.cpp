#include "audio/htsat_tower.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <omp.h>

#include "core/config.h"

namespace cc {

Result<HtsatConfig> read_htsat_config(const nlohmann::json& clap_config) {
  CC_TRY(nlohmann::json a, config_section(clap_config, "audio_config"));
  HtsatConfig c;
  CC_TRY(c.num_mel_bins, config_int(a, "num_mel_bins", 64));
  CC_TRY(c.spec_size, config_int(a, "spec_size", 256));
  CC_TRY(std::vector<int> patch, config_int_list(a, "patch_size", {4}));
  CC_TRY(std::vector<int> stride, config_int_list(a, "patch_stride", {4, 4}));
  CC_TRY(c.window_size, config_int(a, "window_size", 8));
  CC_TRY(c.embed_dim, config_int(a, "patch_embeds_hidden_size", 96));
  CC_TRY(c.depths, config_int_list(a, "depths", {2, 2, 6, 2}));
  CC_TRY(c.heads, config_int_list(a, "num_attention_heads", {4, 8, 16, 32}));
  CC_TRY(c.mlp_ratio, config_double(a, "mlp_ratio", 4.0));
  CC_TRY(c.qkv_bias, config_bool(a, "qkv_bias", true));
  CC_TRY(c.patch_norm, config_bool(a, "enable_patch_layer_norm", true));
  CC_TRY(std::string act, config_string(a, "hidden_act", "gelu"));
  CC_TRY(c.act, parse_activation(act));
  CC_TRY(c.eps, config_float(a, "layer_norm_eps", 1e-5f));
  CC_TRY(c.hidden_size, config_int(a, "hidden_size", 768));
  // ClapConfig copies its top-level projection settings into audio_config.
  CC_TRY(c.projection_dim, config_int(clap_config, "projection_dim", 512));
  CC_TRY(std::string pact, config_string(clap_config, "projection_hidden_act", "relu"));
  CC_TRY(c.projection_act, parse_activation(pact));
  CC_TRY(c.fusion, config_bool(a, "enable_fusion", false));
  CC_TRY(std::string fusion_type, config_string(a, "fusion_type", ""));
  CC_TRY(c.aff_block_r, config_int(a, "aff_block_r", 4));
  CC_TRY(int in_channels, config_int(a, "patch_embed_input_channels", 1));
  CC_TRY(bool flatten, config_bool(a, "flatten_patch_embeds", true));

  if (c.fusion && fusion_type != "aff_2d")
    return error("audio_config: fusion_type '" + fusion_type + "' is not supported (only aff_2d)");
  if (c.fusion && (c.aff_block_r <= 0 || c.embed_dim % c.aff_block_r != 0))
    return error("audio_config: aff_block_r must divide patch_embeds_hidden_size");
  for (auto* v : {&patch, &stride})
    if (v->empty() || v->size() > 2 || (v->size() == 2 && (*v)[0] != (*v)[1]))
      return error("audio_config: only square patch_size / patch_stride are supported");
  c.patch_size = patch[0];
  c.patch_stride = stride[0];
  if (c.patch_size != c.patch_stride) return error("audio_config: overlapping patches (patch_size != patch_stride) are not supported");
  if (in_channels != 1 || !flatten) return error("audio_config: expected one input channel and flattened patch embeddings");
  if (c.num_mel_bins <= 0 || c.spec_size <= 0 || c.spec_size % c.num_mel_bins != 0 || c.patch_stride <= 0 ||
      c.spec_size % c.patch_stride != 0 || c.window_size <= 0 || c.embed_dim <= 0 || c.depths.empty() ||
      c.depths.size() != c.heads.size() || c.depths.size() > 8 || c.embed_dim > (1 << 20) ||
      !(c.mlp_ratio > 0 && c.mlp_ratio <= 64))  // bounds that keep the stage widths and mlp_ratio * width in an int
    return error("audio_config: inconsistent sizes");
  for (size_t i = 0; i < c.depths.size(); ++i) {
    const int dim = c.embed_dim << i;
    if (c.depths[i] < 0 || c.heads[i] <= 0 || dim % c.heads[i] != 0)
      return error("audio_config: stage " + std::to_string(i) + " width " + std::to_string(dim) +
                   " is not a multiple of its heads");
    if (std::min(c.grid() >> i, c.grid() >> i) < c.window_size && c.depths[i] > 0)
      return error("audio_config: stage " + std::to_string(i) + " is smaller than window_size (HF cannot run it either)");
  }
  if (c.hidden_size != c.num_features())
    return error("audio_config: hidden_size " + std::to_string(c.hidden_size) + " differs from the last stage width " +
                 std::to_string(c.num_features()));
  return c;
}

Result<HtsatTower> HtsatTower::load(SafeTensors& w, const HtsatConfig& c) {
  HtsatTower t;
  t.c_ = c;
  const std::string e = "audio_model.audio_encoder.";
  const int mels = c.num_mel_bins, p = c.patch_size;
  CC_TRY(t.input_bn_, load_batch_norm(w, e + "batch_norm", mels));
  CC_TRY(Tensor conv, w.get(e + "patch_embed.proj.weight", {c.embed_dim, 1, p, p}));
  CC_TRY(Tensor conv_bias, w.get(e + "patch_embed.proj.bias", {c.embed_dim}));
  t.patch_embed_ = Linear{conv.data, conv_bias.data, p * p, c.embed_dim};
  if (c.patch_norm) {
    CC_TRY(t.patch_norm_, load_layer_norm(w, e + "patch_embed.norm", c.embed_dim, c.eps));
  }
  if (c.fusion) {
    const int d = c.embed_dim, r = d / c.aff_block_r;
    const std::string f = e + "patch_embed.fusion_model.";
    CC_TRY(Tensor mel_conv, w.get(e + "patch_embed.mel_conv2d.weight", {d, 1, p, 3 * p}));
    CC_TRY(Tensor mel_conv_bias, w.get(e + "patch_embed.mel_conv2d.bias", {d}));
    t.fusion_.mel_conv = Linear{mel_conv.data, mel_conv_bias.data, 3 * p * p, d};
    auto conv1x1 = [&](const std::string& name, int in, int out) -> Result<Linear> {
      CC_TRY(Tensor k, w.get(f + name + ".weight", {out, in, 1, 1}));
      CC_TRY(Tensor b, w.get(f + name + ".bias", {out}));
      return Linear{k.data, b.data, in, out};
    };
    CC_TRY(t.fusion_.local1, conv1x1("local_att.0", d, r));
    CC_TRY(t.fusion_.local_bn1, load_batch_norm(w, f + "local_att.1", r));
    CC_TRY(t.fusion_.local2, conv1x1("local_att.3", r, d));
    CC_TRY(t.fusion_.local_bn2, load_batch_norm(w, f + "local_att.4", d));
    CC_TRY(t.fusion_.global1, conv1x1("global_att.1", d, r));
    CC_TRY(t.fusion_.global_bn1, load_batch_norm(w, f + "global_att.2", r));
    CC_TRY(t.fusion_.global2, conv1x1("global_att.4", r, d));
    CC_TRY(t.fusion_.global_bn2, load_batch_norm(w, f + "global_att.5", d));
  }

  for (size_t i = 0; i < c.depths.size(); ++i) {
    Stage s;
    s.dim = c.embed_dim << i;
    s.height = s.width = c.grid() >> i;
    // ClapAudioLayer.set_shift_and_window_size: a stage no larger than the window is one window, unshifted.
    const bool one_window = std::min(s.height, s.width) <= c.window_size;
    s.window = one_window ? std::min(s.height, s.width) : c.window_size;
    const int ws = s.window, S = ws * ws, table_side = 2 * c.window_size - 1;
    const std::string sp = e + "layers." + std::to_string(i) + ".";
    const int hidden = static_cast<int>(c.mlp_ratio * s.dim);
    for (int j = 0; j < c.depths[i]; ++j) {
      Block b;
      b.heads = c.heads[i];
      b.shift = (j % 2 == 1 && !one_window) ? c.window_size / 2 : 0;
      const std::string bp = sp + "blocks." + std::to_string(j) + ".";
      CC_TRY(b.layernorm_before, load_layer_norm(w, bp + "layernorm_before", s.dim, c.eps));
      CC_TRY(b.query, load_linear(w, bp + "attention.self.query", s.dim, s.dim, c.qkv_bias, &b.layernorm_before));
      CC_TRY(b.key, load_linear(w, bp + "attention.self.key", s.dim, s.dim, c.qkv_bias, &b.layernorm_before));
      CC_TRY(b.value, load_linear(w, bp + "attention.self.value", s.dim, s.dim, c.qkv_bias, &b.layernorm_before));
      CC_TRY(b.output, load_linear(w, bp + "attention.output.dense", s.dim, s.dim, true));
      CC_TRY(b.layernorm_after, load_layer_norm(w, bp + "layernorm_after", s.dim, c.eps));
      CC_TRY(b.intermediate, load_linear(w, bp + "intermediate.dense", s.dim, hidden, true, &b.layernorm_after));
      CC_TRY(b.fc_out, load_linear(w, bp + "output.dense", hidden, s.dim, true));
      CC_TRY(Tensor table, w.get(bp + "attention.self.relative_position_bias_table", {table_side * table_side, b.heads}));
      // relative_position_index: (dy + ws - 1) * (2 ws - 1) + (dx + ws - 1) for tokens i, j of a window.
      b.position_bias.resize(static_cast<size_t>(b.heads) * S * S);
      for (int qi = 0; qi < S; ++qi)
        for (int kj = 0; kj < S; ++kj) {
          const int dy = qi / ws - kj / ws + c.window_size - 1, dx = qi % ws - kj % ws + c.window_size - 1;
          const float* row = table.data + static_cast<size_t>(dy * table_side + dx) * b.heads;
          for (int h = 0; h < b.heads; ++h) b.position_bias[(static_cast<size_t>(h) * S + qi) * S + kj] = row[h];
        }
      s.blocks.push_back(std::move(b));
    }
    // The shifted-window mask (ClapAudioLayer.get_attn_mask), on the padded grid.
    const int shift = c.window_size / 2;
    if (!one_window && c.depths[i] > 1) {
      const int hp = (s.height + ws - 1) / ws * ws, wp = (s.width + ws - 1) / ws * ws;
      auto region = [&](int v, int size) { return v < size - ws ? 0 : v < size - shift ? 1 : 2; };
      const int nwx = wp / ws, windows = (hp / ws) * nwx;
      s.shift_mask.resize(static_cast<size_t>(windows) * S * S);
      for (int win = 0; win < windows; ++win)
        for (int qi = 0; qi < S; ++qi)
          for (int kj = 0; kj < S; ++kj) {
            const int wy = win / nwx * ws, wx = win % nwx * ws;
            const int rq = region(wy + qi / ws, hp) * 3 + region(wx + qi % ws, wp);
            const int rk = region(wy + kj / ws, hp) * 3 + region(wx + kj % ws, wp);
            s.shift_mask[(static_cast<size_t>(win) * S + qi) * S + kj] = rq == rk ? 0.0f : -100.0f;
          }
    }
    if (i + 1 < c.depths.size()) {
      s.merge = true;
      CC_TRY(s.merge_norm, load_layer_norm(w, sp + "downsample.norm", 4 * s.dim, c.eps));
      CC_TRY(s.merge_reduction, load_linear(w, sp + "downsample.reduction", 4 * s.dim, 2 * s.dim, false, &s.merge_norm));
    }
    t.stages_.push_back(std::move(s));
  }
  CC_TRY(t.final_norm_, load_layer_norm(w, e + "norm", c.num_features(), c.eps));
  CC_TRY(t.projection_, load_projection_head(w, "audio_projection", c.hidden_size, c.projection_dim, c.projection_act));
  return t;
}

// For each of `n` single-channel mels: BatchNorm2d over mel bins (eval), bicubic resize of time to spec_size * freq_ratio
// (align_corners=True, A = -0.75, clamped taps, as torch's upsample_bicubic2d), then
// reshape_mel2img: time chunk c of the resized mel becomes rows c*F .. c*F+F-1 of a square image.
void HtsatTower::mel_to_image(const float* features, int n, int frames, float* image) const {
  const int F = c_.num_mel_bins, r = c_.freq_ratio(), S = c_.spec_size, T = S * r;
  const std::vector<float>& alpha = input_bn_.alpha;
  const std::vector<float>& beta = input_bn_.beta;
  const float scale = T > 1 ? static_cast<float>(frames - 1) / static_cast<float>(T - 1) : 0.0f;
  auto cubic1 = [](float x) { const float A = -0.75f; return ((A + 2) * x - (A + 3)) * x * x + 1; };
  auto cubic2 = [](float x) { const float A = -0.75f; return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };
#pragma omp parallel for
  for (int b = 0; b < n; ++b) {
    const float* x = features + static_cast<size_t>(b) * frames * F;
    float* img = image + static_cast<size_t>(b) * S * S;
    for (int t = 0; t < T; ++t) {
      float row[4];
      int idx[4];
      if (frames == T) {
        row[0] = 0, row[1] = 1, row[2] = 0, row[3] = 0;
        for (int k = 0; k < 4; ++k) idx[k] = std::clamp(t - 1 + k, 0, frames - 1);
      } else {
        const float real = scale * t;
        const int i0 = static_cast<int>(std::floor(real));
        const float frac = real - i0;
        row[0] = cubic2(frac + 1.0f), row[1] = cubic1(frac), row[2] = cubic1(1.0f - frac), row[3] = cubic2(2.0f - frac);
        for (int k = 0; k < 4; ++k) idx[k] = std::clamp(i0 - 1 + k, 0, frames - 1);
      }
      const int chunk = t / S, col = t % S;
      for (int f = 0; f < F; ++f) {
        float v = 0;
        for (int k = 0; k < 4; ++k) v += (x[static_cast<size_t>(idx[k]) * F + f] * alpha[f] + beta[f]) * row[k];
        img[static_cast<size_t>(chunk * F + f) * S + col] = v;
      }
    }
  }
}

void HtsatTower::block_forward(const Block& blk, const Stage& s, Scratch& x, int n) const {
  const int H = s.height, W = s.width, C = s.dim, ws = s.window, S = ws * ws;
  const int hp = (H + ws - 1) / ws * ws, wp = (W + ws - 1) / ws * ws, nwx = wp / ws, windows = (hp / ws) * nwx;
  const int64_t tokens = static_cast<int64_t>(n) * H * W, rows = static_cast<int64_t>(n) * windows * S;

  Scratch h(tokens * C);
  layer_norm(blk.layernorm_before, x.data(), tokens, h.data());

  // Window partition of the padded, rolled grid: window token (wy*ws+ty, wx*ws+tx) holds grid
  // position ((wy*ws+ty + shift) mod hp, (wx*ws+tx + shift) mod wp); padding stays zero.
  std::vector<int64_t> source(rows, -1);
  for (int b = 0; b < n; ++b)
    for (int win = 0; win < windows; ++win)
      for (int t = 0; t < S; ++t) {
        const int y = (win / nwx * ws + t / ws + blk.shift) % hp, xx = (win % nwx * ws + t % ws + blk.shift) % wp;
        if (y < H && xx < W) source[(static_cast<int64_t>(b) * windows + win) * S + t] = (static_cast<int64_t>(b) * H + y) * W + xx;
      }
  Scratch win_in(rows * C, 0.0f);
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r)
    if (source[r] >= 0) std::memcpy(&win_in[r * C], &h[source[r] * C], C * sizeof(float));

  Scratch q(rows * C), k(rows * C), v(rows * C), ctx(rows * C);
  linear(blk.query, win_in.data(), rows, q.data());
  linear(blk.key, win_in.data(), rows, k.data());
  linear(blk.value, win_in.data(), rows, v.data());
  AttentionMask mask;
  mask.head_bias = blk.position_bias.data();
  if (blk.shift > 0) {
    mask.group_bias = s.shift_mask.data();
    mask.groups = windows;
  }
  const int head_dim = C / blk.heads;
  attention(q.data(), k.data(), v.data(), ctx.data(), {n * windows, S, blk.heads, head_dim},
            1.0f / std::sqrt(static_cast<float>(head_dim)), mask);
  linear(blk.output, ctx.data(), rows, q.data());

  // Window reverse + roll back: each real grid position takes its window row.
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r)
    if (source[r] >= 0)
      for (int ch = 0; ch < C; ++ch) x[source[r] * C + ch] += q[r * C + ch];

  layer_norm(blk.layernorm_after, x.data(), tokens, h.data());
  Scratch mlp(tokens * blk.intermediate.out);
  linear(blk.intermediate, h.data(), tokens, mlp.data());
  activate(c_.act, mlp.data(), static_cast<int64_t>(mlp.size()));
  linear(blk.fc_out, mlp.data(), tokens, h.data());
  add_inplace(x.data(), h.data(), tokens * C);
}

// ClapAudioPatchEmbed's fusion path: channels 1..3 through mel_conv2d (kernel and stride
// (P, 3P)), laid side by side along width and zero-padded to the grid, then the AFF block
// (ClapAudioAFFBlock) mixes them with the global embedding `g`, token-major [n, G*G, C].
void HtsatTower::fuse(const float* image, int n, float* g) const {
  const int S = c_.spec_size, P = c_.patch_size, G = c_.grid(), C = c_.embed_dim;
  const int wl = S / (3 * P);  // local columns per channel
  const int64_t tokens = static_cast<int64_t>(n) * G * G;
  const int64_t local_rows = static_cast<int64_t>(n) * 3 * G * wl;
  const int K = 3 * P * P;
  Scratch cols(local_rows * K);
#pragma omp parallel for
  for (int64_t r = 0; r < local_rows; ++r) {
    const int64_t b = r / (3 * G * wl), j = r / (G * wl) % 3, h = r / wl % G, w = r % wl;
    const float* img = image + (b * 4 + 1 + j) * S * S;
    for (int ky = 0; ky < P; ++ky)
      std::memcpy(&cols[r * K + ky * 3 * P], &img[(h * P + ky) * S + w * 3 * P], 3 * P * sizeof(float));
  }
  Scratch conv(local_rows * C);
  linear(fusion_.mel_conv, cols.data(), local_rows, conv.data());
  Scratch l(tokens * C, 0.0f);  // width j*wl + w; columns past 3*wl stay zero
  for (int64_t r = 0; r < local_rows; ++r) {
    const int64_t b = r / (3 * G * wl), j = r / (G * wl) % 3, h = r / wl % G, w = r % wl;
    std::memcpy(&l[((b * G + h) * G + j * wl + w) * C], &conv[r * C], C * sizeof(float));
  }

  const int R = fusion_.local1.out;
  Scratch a(tokens * C), mid(tokens * R), local(tokens * C);
  for (int64_t i = 0; i < tokens * C; ++i) a[i] = g[i] + l[i];
  linear(fusion_.local1, a.data(), tokens, mid.data());  // local attention: per token
  batch_norm(fusion_.local_bn1, mid.data(), tokens);
  relu(mid.data(), tokens * R);
  linear(fusion_.local2, mid.data(), tokens, local.data());
  batch_norm(fusion_.local_bn2, local.data(), tokens);
  for (int b = 0; b < n; ++b) {  // global attention: on the mean over the grid
    std::vector<double> sum(C, 0.0);
    for (int64_t t = 0; t < G * G; ++t)
      for (int ch = 0; ch < C; ++ch) sum[ch] += a[(b * G * G + t) * C + ch];
    std::vector<float> pooled(C), gmid(R), glob(C);
    for (int ch = 0; ch < C; ++ch) pooled[ch] = static_cast<float>(sum[ch] / (G * G));
    linear(fusion_.global1, pooled.data(), 1, gmid.data());
    batch_norm(fusion_.global_bn1, gmid.data(), 1);
    relu(gmid.data(), R);
    linear(fusion_.global2, gmid.data(), 1, glob.data());
    batch_norm(fusion_.global_bn2, glob.data(), 1);
    for (int64_t t = 0; t < G * G; ++t) {
      float* loc = &local[(b * G * G + t) * C];
      for (int ch = 0; ch < C; ++ch) loc[ch] += glob[ch];
    }
  }
  sigmoid(local.data(), tokens * C);
  for (int64_t i = 0; i < tokens * C; ++i) g[i] = 2 * g[i] * local[i] + 2 * l[i] * (1 - local[i]);
}

// A batch of clips runs a clip per thread, in groups of as many clips as threads. One clip's
// GEMMs are already at oneDNN's peak (stage 3's 512x512 at M = 256 tokens: 447 GFLOP/s, at
// M = 1024: 464), so batching can only save the time two threads spend waiting on each other
// between a clip's small kernels (window shifts, softmax, norms), which a clip to itself never
// does: batch 4 runs at 96-98 % of twice the one-thread rate, and its gain over batch 1 is what
// batch 1 loses splitting one clip over two threads (README "Precision": 1.03-1.06x when batch 1
// scales 1.8-1.9x; clip by clip with the late stages batched, as before: 0.95-1.02x). Inside the
// parallel region oneDNN and our loops run their partitions in turn on one thread: the same
// sums, so a clip's vector is the same as at batch 1.
//
// Clips left over (fewer than the threads) run on all threads: the early stages clip by clip,
// the late ones on those clips together. Batched four at a time the first stages fill the cache
// (32 MB MLP buffers; 4.58 vs 4.99 clips/s); the late stages have few tokens per clip (256, 64)
// and most of the weights (stage 3's twelve blocks, stage 4's 1024-wide ones), which batching
// lets the clips share.
constexpr int64_t kTokensPerClipBatched = 256;

Result<Embeddings> HtsatTower::embed(const float* features, int n, int frames) const {
  const int S = c_.spec_size;
  if (frames <= 0 || frames > S * c_.freq_ratio())
    return error("audio features have " + std::to_string(frames) + " frames; the tower takes at most " +
                 std::to_string(S * c_.freq_ratio()));
  Embeddings out;
  out.count = n;
  out.dim = c_.projection_dim;
  if (n == 0) return out;
  const size_t per_clip = static_cast<size_t>(c_.channels()) * frames * c_.num_mel_bins;
  const size_t final_floats = stage_output_floats(stages_.size());
  Scratch x(final_floats * n);
  auto stages = [&](int first_clip, int clips, size_t from, size_t to, float* dest) {
    Scratch one = embed_patches(features + first_clip * per_clip, clips, frames);
    run_stages(one, clips, from, to);
    std::copy(one.data(), one.data() + one.size(), dest);
  };

  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int side_by_side = threads > 1 ? n / threads * threads : 0;
#pragma omp parallel for schedule(static, 1) if (side_by_side > 0)
  for (int b = 0; b < side_by_side; ++b) stages(b, 1, 0, stages_.size(), x.data() + b * final_floats);

  if (const int rest = n - side_by_side; rest > 0) {
    size_t first_batched = 0;
    while (first_batched < stages_.size() &&
           static_cast<int64_t>(stages_[first_batched].height) * stages_[first_batched].width > kTokensPerClipBatched)
      ++first_batched;
    const size_t early_floats = stage_output_floats(first_batched);
    Scratch late(early_floats * rest);
    for (int b = 0; b < rest; ++b) stages(side_by_side + b, 1, 0, first_batched, late.data() + b * early_floats);
    run_stages(late, rest, first_batched, stages_.size());
    std::copy(late.data(), late.data() + late.size(), x.data() + side_by_side * final_floats);
  }
  return pool_and_project(x, n);
}

size_t HtsatTower::stage_output_floats(size_t stages) const {
  if (stages == 0) return static_cast<size_t>(c_.grid()) * c_.grid() * c_.embed_dim;
  if (stages < stages_.size()) return static_cast<size_t>(stages_[stages].height) * stages_[stages].width * stages_[stages].dim;
  const Stage& last = stages_.back();
  if (!last.merge) return static_cast<size_t>(last.height) * last.width * last.dim;
  return static_cast<size_t>((last.height + 1) / 2) * ((last.width + 1) / 2) * 2 * last.dim;
}

Scratch HtsatTower::embed_patches(const float* features, int n, int frames) const {
  const int S = c_.spec_size, P = c_.patch_size, G = c_.grid();
  const int channels = c_.channels();
  Scratch image(static_cast<size_t>(n) * channels * S * S);
  mel_to_image(features, n * channels, frames, image.data());

  // Patch embedding of channel 0: the stride-P convolution as im2col + GEMM.
  const int64_t tokens0 = static_cast<int64_t>(n) * G * G;
  Scratch cols(tokens0 * P * P);
#pragma omp parallel for
  for (int64_t t = 0; t < tokens0; ++t) {
    const int64_t b = t / (G * G), gy = t / G % G, gx = t % G;
    const float* img = image.data() + b * channels * S * S;
    for (int ky = 0; ky < P; ++ky)
      std::memcpy(&cols[t * P * P + ky * P], &img[(gy * P + ky) * S + gx * P], P * sizeof(float));
  }
  Scratch x(tokens0 * c_.embed_dim);
  linear(patch_embed_, cols.data(), tokens0, x.data());
  if (c_.fusion) fuse(image.data(), n, x.data());
  if (c_.patch_norm) layer_norm(patch_norm_, x.data(), tokens0, x.data());
  return x;
}

void HtsatTower::run_stages(Scratch& x, int n, size_t from, size_t to) const {
  for (size_t i = from; i < to; ++i) {
    const Stage& s = stages_[i];
    for (const Block& b : s.blocks) block_forward(b, s, x, n);
    if (!s.merge) continue;
    // Patch merging: 2x2 neighbours (even/even, odd/even, even/odd, odd/odd) concatenated, LayerNorm, Linear.
    const int H = s.height, W = s.width, C = s.dim, H2 = (H + 1) / 2, W2 = (W + 1) / 2;
    const int64_t merged = static_cast<int64_t>(n) * H2 * W2;
    Scratch cat(merged * 4 * C, 0.0f);
#pragma omp parallel for
    for (int64_t t = 0; t < merged; ++t) {
      const int64_t b = t / (H2 * W2), y = t / W2 % H2 * 2, xx = t % W2 * 2;
      const int dy[4] = {0, 1, 0, 1}, dx[4] = {0, 0, 1, 1};
      for (int q = 0; q < 4; ++q)
        if (y + dy[q] < H && xx + dx[q] < W)
          std::memcpy(&cat[(t * 4 + q) * C], &x[((b * H + y + dy[q]) * W + xx + dx[q]) * C], C * sizeof(float));
    }
    layer_norm(s.merge_norm, cat.data(), merged, cat.data());
    x = Scratch(merged * 2 * C);
    linear(s.merge_reduction, cat.data(), merged, x.data());
  }
}

Embeddings HtsatTower::pool_and_project(Scratch& x, int n) const {
  Embeddings out;
  out.count = n;
  out.dim = c_.projection_dim;
  // LayerNorm, then the mean over all tokens (HF's reshapes before avgpool only reorder them).
  const int F = c_.num_features();
  const int64_t per_clip = static_cast<int64_t>(x.size()) / F / n;
  layer_norm(final_norm_, x.data(), per_clip * n, x.data());
  std::vector<float> pooled(static_cast<size_t>(n) * F, 0.0f);
  for (int b = 0; b < n; ++b) {
    std::vector<double> sum(F, 0.0);
    for (int64_t t = 0; t < per_clip; ++t)
      for (int ch = 0; ch < F; ++ch) sum[ch] += x[(b * per_clip + t) * F + ch];
    for (int ch = 0; ch < F; ++ch) pooled[static_cast<size_t>(b) * F + ch] = static_cast<float>(sum[ch] / per_clip);
  }

  out.values.resize(static_cast<size_t>(n) * out.dim);
  projection_head(projection_, pooled.data(), n, out.values.data());
  return out;
}

}  // namespace cc
