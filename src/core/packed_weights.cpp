#include "core/packed_weights.h"

#include <climits>
#include <cstdio>
#include <deque>
#include <filesystem>

#include "core/file.h"
#include "core/gemm.h"

namespace cc {

namespace {
constexpr const char* kFormat = "clipclap-packed-weights";

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

Status attach_packed_weights(SafeTensors& weights, const std::vector<std::string>& prefixes) {
  const std::string path = packed_weights_path(weights.path());
  if (!is_file(path) || !gemm_prefers_packed_layout()) return Ok{};
  const std::string fix = "; run `clipclap pack` on the model again, or delete " + path;
  auto packed = SafeTensors::open(path, prefixes);
  if (!packed.ok()) return error(packed.error().message + fix);
  const auto& meta = packed->metadata();
  auto field = [&](const char* key) { auto it = meta.find(key); return it == meta.end() ? std::string() : it->second; };
  if (field("format") != kFormat || field("layout") != kPackedLayout)
    return error(path + ": not packed weights in layout " + kPackedLayout + fix);
  if (field("source") != file_stamp(weights.path()))
    return error(path + ": was packed from another version of " + weights.path() + " (its size or time differs)" + fix);
  weights.set_packed(std::make_shared<SafeTensors>(std::move(packed).value()));
  return Ok{};
}

}  // namespace cc
