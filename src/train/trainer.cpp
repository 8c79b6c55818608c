#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "train/adam.h"
#include "train/least_squares.h"
#include "train/losses.h"

namespace cc {

uint64_t SplitMix64::next() {
  uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void SplitMix64::shuffle(std::vector<int64_t>& v) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[next() % i]);
}

namespace {

struct Split {
  std::vector<int64_t> train, val;
};

// Splits by source item (all captions of a clip fall on the same side, so held-out numbers
// are about unseen clips), or by pair when there are no groups.
Result<Split> split(const PairedVectors& d, double val_fraction, uint64_t seed, const char* what) {
  if (!(val_fraction > 0 && val_fraction < 1)) return error("--val-fraction must be between 0 and 1 (exclusive)");
  const int64_t n = d.n;
  auto group_of = [&](int64_t r) { return d.group.empty() ? r : static_cast<int64_t>(d.group[r]); };
  std::vector<int64_t> groups;
  for (int64_t r = 0; r < n; ++r) groups.push_back(group_of(r));
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  SplitMix64(seed).shuffle(groups);
  const int64_t nval = static_cast<int64_t>(std::llround(val_fraction * static_cast<double>(groups.size())));
  if (nval < 1 || nval >= static_cast<int64_t>(groups.size()))
    return error(std::string(what) + ": " + std::to_string(groups.size()) +
                 " items cannot be split into training and held-out sets with this --val-fraction");
  std::vector<char> held(groups.empty() ? 0 : *std::max_element(groups.begin(), groups.end()) + 1, 0);
  for (int64_t k = 0; k < nval; ++k) held[groups[k]] = 1;
  Split s;
  for (int64_t r = 0; r < n; ++r) (held[group_of(r)] ? s.val : s.train).push_back(r);
  return s;
}

void gather(const PairedVectors& d, const std::vector<int64_t>& rows, std::vector<double>& x, std::vector<double>& t) {
  x.resize(rows.size() * d.in);
  t.resize(rows.size() * d.out);
  for (size_t r = 0; r < rows.size(); ++r) {
    std::copy_n(d.x.begin() + rows[r] * d.in, d.in, x.begin() + r * d.in);
    std::copy_n(d.t.begin() + rows[r] * d.out, d.out, t.begin() + r * d.out);
  }
}

}  // namespace

Evaluation evaluate_projection(const Projection& p, const PairedVectors& data, const std::vector<int64_t>& rows,
                               const TrainOptions& opts, bool info_nce) {
  Evaluation e;
  std::vector<double> x, t, y;
  gather(data, rows, x, t);
  const int64_t n = static_cast<int64_t>(rows.size());
  e.loss = info_nce ? info_nce_loss(p, x, t, n, opts.temperature, nullptr) : cosine_loss(p, x, t, n, nullptr);
  e.cosine = 1 - cosine_loss(p, x, t, n, nullptr);
  p.apply(x, n, y);
  // Gallery: one vector per distinct source (clip) and every caption as a query, as in the
  // AudioCaps/Clotho protocol; without groups every pair is its own item.
  std::vector<int> item(n);
  std::vector<int64_t> first_of_item;
  for (int64_t r = 0; r < n; ++r) {
    const int g = data.group.empty() ? static_cast<int>(rows[r]) : data.group[rows[r]];
    int idx = -1;
    for (size_t k = 0; k < first_of_item.size(); ++k) {
      const int64_t fr = first_of_item[k];
      if ((data.group.empty() ? static_cast<int>(rows[fr]) : data.group[rows[fr]]) == g) idx = static_cast<int>(k);
    }
    if (idx < 0) {
      idx = static_cast<int>(first_of_item.size());
      first_of_item.push_back(r);
    }
    item[r] = idx;
  }
  std::vector<double> items(first_of_item.size() * p.out);
  for (size_t k = 0; k < first_of_item.size(); ++k)
    std::copy_n(y.begin() + first_of_item[k] * p.out, p.out, items.begin() + k * p.out);
  std::vector<std::vector<int>> text_to_item(n), item_to_text(first_of_item.size());
  for (int64_t r = 0; r < n; ++r) {
    text_to_item[r] = {item[r]};
    item_to_text[item[r]].push_back(static_cast<int>(r));
  }
  e.from_text = retrieval(t, items, p.out, text_to_item);
  e.to_text = retrieval(items, t, p.out, item_to_text);
  return e;
}

Result<TrainResult> train_projection(const PairedVectors& bridge, const PairedVectors& audio, const TrainOptions& opts,
                                     const Progress& progress) {
  const bool use_bridge = opts.mode == "text-bridge" || opts.mode == "both";
  const bool use_audio = opts.mode == "audio-caption" || opts.mode == "both";
  if (!use_bridge && !use_audio) return error("unknown --mode '" + opts.mode + "' (text-bridge, audio-caption, both)");
  if (opts.epochs < 1 || opts.batch < 2 || !(opts.lr > 0) || !(opts.temperature > 0))
    return error("--epochs, --batch (at least 2), --lr and --temperature must be positive");
  if (use_bridge && bridge.n == 0) return error("text-bridge training needs captions (--captions)");
  if (use_audio && audio.n == 0) return error("audio-caption training needs audio-caption pairs (--pairs)");
  const PairedVectors& main = use_audio ? audio : bridge;  // what held-out metrics are measured on
  const int in = main.in, out = main.out;
  if (use_bridge && use_audio && (bridge.in != in || bridge.out != out))
    return error("caption and audio vectors differ in size");

  Split bsplit, asplit;
  if (use_bridge) {
    CC_TRY(bsplit, split(bridge, opts.val_fraction, opts.seed, "captions"));
  }
  if (use_audio) {
    CC_TRY(asplit, split(audio, opts.val_fraction, opts.seed + 1, "audio-caption pairs"));
  }
  const std::vector<int64_t>& val_rows = use_audio ? asplit.val : bsplit.val;
  const bool rank_by_retrieval = use_audio;

  TrainResult best;
  double best_score = -1e300;
  best.identity = evaluate_projection(Projection::identity(in, false), main, val_rows, opts, use_audio);
  std::vector<double> bx, bt, ax, at;
  int done = 0;
  const int total = 4 * opts.epochs;
  for (const bool bias : {false, true}) {
    for (const std::string init : {"identity", "least-squares"}) {
      Projection p = Projection::identity(in, bias);
      if (init == "least-squares") {
        std::vector<double> x, t;
        gather(main, use_audio ? asplit.train : bsplit.train, x, t);
        CC_TRY(p, least_squares_projection(x, t, static_cast<int64_t>(x.size() / in), in, out, bias));
      }
      Adam adam(p, opts.lr);
      SplitMix64 rng(opts.seed ^ (bias ? 0x5bd1e995ULL : 0) ^ (init == "identity" ? 0 : 0x27d4eb2fULL));
      double epoch_loss = 0;
      for (int epoch = 0; epoch < opts.epochs; ++epoch) {
        std::vector<int64_t> border = bsplit.train, aorder = asplit.train;
        rng.shuffle(border);
        rng.shuffle(aorder);
        const size_t steps = std::max(use_bridge ? (border.size() + opts.batch - 1) / opts.batch : 0,
                                      use_audio ? (aorder.size() + opts.batch - 1) / opts.batch : 0);
        epoch_loss = 0;
        for (size_t s = 0; s < steps; ++s) {
          Gradient g = zero_gradient(p);
          double loss = 0;
          auto slice = [&](const std::vector<int64_t>& order) {
            const size_t from = (s * opts.batch) % order.size();
            return std::vector<int64_t>(order.begin() + from,
                                        order.begin() + std::min(order.size(), from + static_cast<size_t>(opts.batch)));
          };
          const double wb = use_audio ? opts.bridge_weight : 1.0, wa = use_bridge ? 1 - opts.bridge_weight : 1.0;
          if (use_bridge) {
            const auto rows = slice(border);
            gather(bridge, rows, bx, bt);
            loss += wb * cosine_loss(p, bx, bt, static_cast<int64_t>(rows.size()), &g, wb);
          }
          if (use_audio) {
            const auto rows = slice(aorder);
            if (rows.size() >= 2) {
              gather(audio, rows, ax, at);
              loss += wa * info_nce_loss(p, ax, at, static_cast<int64_t>(rows.size()), opts.temperature, &g, wa);
            }
          }
          adam.step(p, g);
          epoch_loss += loss / steps;
        }
        if (progress) progress(init + (bias ? " + bias" : ""), ++done, total);
      }
      Evaluation v = evaluate_projection(p, main, val_rows, opts, use_audio);
      const double score = rank_by_retrieval ? v.from_text.r1 + v.to_text.r1 - 1e-6 * v.loss : v.cosine;
      char line[256];
      std::snprintf(line, sizeof line, "%s start, bias %s: held-out loss %.4f, cosine %.4f, R@1 text->x %.3f, x->text %.3f",
                    init.c_str(), bias ? "on" : "off", v.loss, v.cosine, v.from_text.r1, v.to_text.r1);
      best.candidates.push_back(line);
      if (score > best_score) {
        best_score = score;
        best.projection = p;
        best.init = init;
        best.train_loss = epoch_loss;
        best.validation = v;
        best.epochs = opts.epochs;
      }
    }
  }
  return best;
}

}  // namespace cc
