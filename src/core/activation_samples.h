// What the layer norms of an fp32 pass produce, for int8's calibration (model/calibration.h):
// per channel the largest magnitude seen, and a sample of whole rows. int8 reads them for the
// layers that take a layer norm's output (GemmWeights::reduce's `input_norm`), to choose how
// much of each channel's range to move into the weights (SmoothQuant's smoothing).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace cc {

struct LayerNorm;

class ActivationSamples {
 public:
  struct Norm {
    int dim = 0;
    std::vector<float> channel_max;  // [dim]: max |y_k| over every row recorded
    std::vector<float> rows;         // [n, dim]: every stride-th row recorded, at most max_rows(dim)
    int64_t seen = 0, stride = 1;
    int64_t count() const { return dim > 0 ? static_cast<int64_t>(rows.size()) / dim : 0; }
  };
  // Rows are kept evenly spread over the whole pass, whatever its length: when max_rows are
  // held, every other one is dropped and the stride doubles. The smoothing search runs the
  // layer on them once per candidate, so what it costs grows with rows · dim: 1,024 rows of
  // the full-size towers (512-768 wide; ~2 s of CLIP ViT-B/32's load), and as many more as fit
  // in the same 2 MB for narrower norms (HTSAT's first stage; the tiny fixtures, whose min
  // cosine moved by up to 0.018 between 1,024 rows and all of them).
  static constexpr int64_t kMinRows = 1024, kMaxFloats = int64_t{1} << 19;
  static int64_t max_rows(int dim);  // a power of two, at least kMinRows

  void record(const LayerNorm& ln, const float* y, int64_t rows);
  // The samples of a layer norm, known by its gains' address (the same SafeTensors maps the
  // fp32 pass and the int8 load); null if it never ran.
  const Norm* find(const LayerNorm& ln) const;

 private:
  std::unordered_map<const float*, Norm> norms_;
};

// While one is alive, this thread's layer_norm calls record into `samples`. A calibration
// pass runs its towers on the thread that holds it (a batch of one: HTSAT runs a batch's
// clips on several threads).
class RecordActivations {
 public:
  explicit RecordActivations(ActivationSamples& samples);
  ~RecordActivations();
  RecordActivations(const RecordActivations&) = delete;
  RecordActivations& operator=(const RecordActivations&) = delete;

 private:
  ActivationSamples* previous_;
};

ActivationSamples* recorded_activations();  // this thread's, or null

}  // namespace cc
