// Training the CLAP -> CLIP projection: a seeded train/validation split, Adam over shuffled
// minibatches, and four candidates (bias on/off x identity or least-squares start), of which
// the one that measures best on the held-out pairs is kept. Same data and seed, same weights.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "eval/retrieval.h"
#include "train/projection.h"

namespace cc {

// Paired vectors: x [n, in] from CLAP, t [n, out] from CLIP's text tower. `group` (optional)
// gives each pair its source item (the audio clip), so retrieval counts every caption of a clip.
struct PairedVectors {
  std::vector<double> x, t;
  int64_t n = 0;
  int in = 0, out = 0;
  std::vector<int> group;
};

struct TrainOptions {
  std::string mode = "audio-caption";  // text-bridge, audio-caption or both
  int epochs = 20, batch = 256;
  double lr = 1e-3, temperature = 0.07, val_fraction = 0.1;
  double bridge_weight = 0.5;  // in "both": weight of the text-bridge loss (the rest is InfoNCE)
  uint64_t seed = 0;
};

struct Evaluation {
  double loss = 0, cosine = 0;  // held-out loss and mean cosine of projected vs target
  RetrievalMetrics to_text;     // projected source -> CLIP text
  RetrievalMetrics from_text;   // CLIP text -> projected source
};

struct TrainResult {
  Projection projection;
  std::string init;  // "identity" or "least-squares"
  double train_loss = 0;
  Evaluation validation, identity;  // the kept candidate, and W = I, on the held-out pairs
  int epochs = 0;
  std::vector<std::string> candidates;  // one line per candidate tried, with its held-out numbers
};

using Progress = std::function<void(const std::string& stage, int done, int total)>;

// `bridge` feeds the text-bridge loss, `audio` the InfoNCE loss; the mode says which are used.
Result<TrainResult> train_projection(const PairedVectors& bridge, const PairedVectors& audio, const TrainOptions& opts,
                                     const Progress& progress = {});

// Held-out numbers of a projection on paired vectors, for the given mode's loss.
Evaluation evaluate_projection(const Projection& p, const PairedVectors& data, const std::vector<int64_t>& rows,
                               const TrainOptions& opts, bool info_nce);

// SplitMix64, so shuffles are the same on every platform (std::shuffle's are not).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : s_(seed) {}
  uint64_t next();
  void shuffle(std::vector<int64_t>& v);

 private:
  uint64_t s_;
};

}  // namespace cc
