#include "core/packed_weights.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <deque>
#include <filesystem>

#include <malloc.h>

#include "core/file.h"
#include "core/gemm.h"

namespace cc {

namespace {
constexpr const char* kFormat = "clipclap-packed-weights";
// How an int8 file's smoothing was chosen (GemmWeights::reduce). Files from before calibration
// lack it; their weights are made anew at load, as for another layout.
constexpr const char* kInt8Smoothing = "calibrated";

bool is_linear_weight(const SafeTensors::Raw& t, const std::string& name) {
  const bool named = name.ends_with(".weight");
  const bool floats = t.dtype == "F32" || t.dtype == "F16" || t.dtype == "BF16";
  return named && floats && t.shape.size() == 2 && name.find("embedding") == std::string::npos;
}
}  // namespace

std::string packed_weights_path(const std::string& weights_path) {
  return std::filesystem::path(weights_path).replace_filename(kPackedWeightsFile).string();
}

Result<PackedSummary> write_packed_weights(const std::string& weights_path) {
  const std::string stamp = file_stamp(weights_path);
  CC_TRY(SafeTensors weights, SafeTensors::open(weights_path));
  std::deque<std::vector<float>> packed;  // deque: the views below point into it
  std::vector<TensorView> views;
  PackedSummary summary;
  for (const std::string& name : weights.names()) {
    CC_TRY(SafeTensors::Raw raw, weights.raw(name));
    if (!is_linear_weight(raw, name)) continue;
    if (raw.shape[0] > INT32_MAX || raw.shape[1] > INT32_MAX) return error(weights_path + ": tensor '" + name + "' is too large to pack");
    const int out = static_cast<int>(raw.shape[0]), in = static_cast<int>(raw.shape[1]);
    CC_TRY(Tensor w, weights.get(name));
    packed.push_back(pack_weight(w.data, in, out));
    views.push_back({name, packed_shape(in, out), packed.back().data()});
    summary.tensors += 1;
    summary.bytes += packed.back().size() * sizeof(float);
  }
  if (views.empty()) return error(weights_path + ": no linear weights to pack");
  const std::string path = packed_weights_path(weights_path);
  CC_CHECK(write_safetensors(path, views, {{"format", kFormat}, {"layout", kPackedLayout}, {"source", stamp}}));
  if (file_stamp(weights_path) != stamp) {  // the checkpoint changed while it was read
    std::remove(path.c_str());
    return error(weights_path + ": changed while it was being packed; run again");
  }
  return summary;
}

void release_checkpoint_pages(const SafeTensors& weights) {
  if (!weights.gemm_weights() || weights.gemm_weights()->mapped()) return;
  weights.release_pages();
  weights.gemm_weights()->set_calibration(nullptr);
  // bf16 and int8: the calibration passes' buffers are free by now, but glibc keeps freed heap
  // pages (its mmap threshold rises to the size of the blocks freed): ~40 MiB of RSS on CLIP
  // ViT-B/32. (fp32 has had no pass; its heap is left as it was, for the requests to reuse.)
  if (weights.gemm_weights()->precision() != Precision::kFp32) malloc_trim(0);
}

std::string gemm_weights_path(const std::string& weights_path, Precision precision) {
  return std::filesystem::path(weights_path).replace_filename(std::string("model.packed-") + precision_name(precision) + ".safetensors").string();
}

Status write_gemm_weights(const std::string& weights_path, Precision precision, const std::vector<TensorView>& tensors,
                          const std::set<std::string>& fp32_layers, const std::string& stamp) {
  if (file_stamp(weights_path) != stamp) return error(weights_path + ": changed while it was being packed; run again");
  if (tensors.empty()) return error(weights_path + ": no linear weights to pack");
  const std::string path = gemm_weights_path(weights_path, precision);
  // 4-byte types first, then bf16, then int8: mapped, every tensor is aligned to its type
  std::vector<TensorView> ordered = tensors;
  auto width = [](const TensorView& t) { return t.dtype == "I8" ? 1 : t.dtype == "BF16" ? 2 : 4; };
  std::stable_sort(ordered.begin(), ordered.end(), [&](const TensorView& a, const TensorView& b) { return width(a) > width(b); });
  std::map<std::string, std::string> meta = {
      {"format", kFormat}, {"precision", precision_name(precision)}, {"source", stamp}, {"layout", gemm_weights_layout(precision)}};
  if (precision == Precision::kInt8) meta["smoothing"] = kInt8Smoothing;
  std::string kept;
  for (const std::string& name : fp32_layers) kept += (kept.empty() ? "" : ",") + name;
  meta[kFp32LayersKey] = kept;
  return write_safetensors(path, ordered, meta);
}

Status attach_packed_weights(SafeTensors& weights, const std::vector<std::string>& prefixes, const WeightOptions& options) {
  const Precision precision = options.precision;
  const bool fp32 = precision == Precision::kFp32;
  if (fp32 && !gemm_prefers_packed_layout()) return Ok{};
  const std::string path = fp32 ? packed_weights_path(weights.path()) : gemm_weights_path(weights.path(), precision);
  if (!is_file(path) || !options.read_pack_file) {
    if (!fp32 || options.pack_at_load) weights.set_gemm_weights(std::make_shared<GemmWeights>(precision));
    return Ok{};
  }
  const std::string fix = std::string("; run `clipclap pack") + (fp32 ? "" : std::string(" --precision ") + precision_name(precision)) +
                          "` on the model again, or delete " + path;
  auto mapped = GemmWeights::map(path, prefixes, precision);
  if (!mapped.ok()) return error(mapped.error().message + fix);
  const auto& meta = (*mapped)->metadata();
  auto field = [&](const char* key) { auto it = meta.find(key); return it == meta.end() ? std::string() : it->second; };
  if (field("format") == kFormat && field("precision") == precision_name(precision) &&
      (field("layout") != gemm_weights_layout(precision) || (precision == Precision::kInt8 && field("smoothing") != kInt8Smoothing) ||
       !meta.contains(kFp32LayersKey))) {
    // written on a machine whose GEMM reads another layout, or before int8 was calibrated or
    // the accuracy guard chose the layers kept in fp32: the weights are made anew here
    weights.set_gemm_weights(std::make_shared<GemmWeights>(precision));
    return Ok{};
  }
  if (field("format") != kFormat || (fp32 ? field("layout") != kPackedLayout : field("precision") != precision_name(precision)))
    return error(path + ": not " + (fp32 ? std::string("packed weights in layout ") + kPackedLayout : std::string(precision_name(precision)) + " packed weights") + fix);
  if (field("source") != file_stamp(weights.path()))
    return error(path + ": was packed from another version of " + weights.path() + " (its size or time differs)" + fix);
  weights.set_gemm_weights(std::move(mapped).value());
  return Ok{};
}

}  // namespace cc
