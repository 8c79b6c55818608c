#include "model/pack_model.h"

#include "core/file.h"
#include "model/embedder.h"

namespace cc {

Result<PackedSummary> pack_model(const std::string& dir, Precision precision) {
  const std::string weights = join_path(dir, "model.safetensors");
  if (precision == Precision::kFp32) return write_packed_weights(weights);
  WeightOptions options;
  options.precision = precision;
  options.read_pack_file = false;
  const std::string stamp = file_stamp(weights);
  CC_TRY(std::unique_ptr<Embedder> model, Embedder::load(dir, options));
  const std::vector<TensorView> tensors = model->gemm_weight_tensors();
  CC_CHECK(write_gemm_weights(weights, precision, tensors, model->fp32_layers(), stamp));
  PackedSummary summary;
  for (const TensorView& t : tensors) {
    summary.tensors += t.name.ends_with(".weight") ? 1 : 0;
    summary.bytes += t.bytes;
  }
  return summary;
}

}  // namespace cc
