// Packed weights beside a checkpoint (`clipclap pack`): written whole or not at all, refused
// with a clear error when stale or broken, and never used from another checkpoint version.
// That they give the same vectors is checked by the parity tests' "+packed" cases.
#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/gemm.h"
#include "core/packed_weights.h"
#include "model/clip_model.h"
#include "test_util.h"

namespace cc {
namespace {

namespace fs = std::filesystem;

std::string scratch_copy(const std::string& tag) { return test::scratch_model_copy("clip-tiny-a", "pack_" + tag); }

bool no_temporary_files(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) return false;
  return true;
}

std::string load_error(const std::string& dir) {
  auto m = ClipModel::load(dir);
  return m.ok() ? "" : m.error().message;
}

TEST(PackedWeights, WrittenBesideTheCheckpointAndMappedByLoad) {
  const std::string dir = scratch_copy("ok");
  auto packed = write_packed_weights(join_path(dir, "model.safetensors"));
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  EXPECT_EQ(packed_weights_path(join_path(dir, "model.safetensors")), join_path(dir, "model.packed.safetensors"));
  EXPECT_TRUE(is_file(join_path(dir, "model.packed.safetensors")));
  // Every q/k/v/out, fc1, fc2 of both towers and the two projections; no embedding table.
  auto weights = SafeTensors::open(join_path(dir, "model.packed.safetensors"));
  ASSERT_TRUE(weights.ok());
  for (const auto& name : weights->names()) EXPECT_EQ(name.find("embedding"), std::string::npos) << name;
  EXPECT_TRUE(weights->contains("text_model.encoder.layers.0.mlp.fc1.weight"));
  EXPECT_TRUE(weights->contains("visual_projection.weight"));
  EXPECT_EQ(packed->tensors, static_cast<int>(weights->names().size()));
  auto m = ClipModel::load(dir);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->packed_weight_bytes() > 0, gemm_prefers_packed_layout());
  // clip-tiny-a is fp16: its linear weights are no longer converted to fp32 at load, only the rest.
  WeightOptions in_place;  // without a pack file, the weights would be packed (and converted) at load
  in_place.pack_at_load = false;
  auto plain = ClipModel::load(test::fixture("models/clip-tiny-a"), in_place);
  auto source = SafeTensors::open(join_path(dir, "model.safetensors"));
  ASSERT_TRUE(plain.ok() && source.ok());
  size_t linear_fp32_bytes = 0;
  for (const auto& name : weights->names()) linear_fp32_bytes += source->raw(name)->bytes * 2;
  if (gemm_prefers_packed_layout()) {
    EXPECT_EQ((*plain)->copied_weight_bytes() - (*m)->copied_weight_bytes(), linear_fp32_bytes);
  }
  EXPECT_TRUE(no_temporary_files(dir));
}

TEST(PackedWeights, AChangedCheckpointIsRefusedUntilPackedAgain) {
  if (!gemm_prefers_packed_layout()) GTEST_SKIP() << "this machine's GEMM ignores packed weights";
  const std::string dir = scratch_copy("stale"), weights = join_path(dir, "model.safetensors");
  ASSERT_TRUE(write_packed_weights(weights).ok());
  const timespec times[2] = {{1000000000, 0}, {1000000000, 0}};  // the checkpoint replaced by another version
  ASSERT_EQ(utimensat(AT_FDCWD, weights.c_str(), times, 0), 0);
  const std::string e = load_error(dir);
  EXPECT_NE(e.find("model.packed.safetensors"), std::string::npos) << e;
  EXPECT_NE(e.find("another version"), std::string::npos) << e;
  EXPECT_NE(e.find("clipclap pack"), std::string::npos) << e;
  ASSERT_TRUE(write_packed_weights(weights).ok());  // packing again mends it
  EXPECT_EQ(load_error(dir), "");
}

TEST(PackedWeights, BrokenPackedFilesAreClearErrors) {
  if (!gemm_prefers_packed_layout()) GTEST_SKIP() << "this machine's GEMM ignores packed weights";
  const std::string dir = scratch_copy("broken"), weights = join_path(dir, "model.safetensors");
  const std::string packed = join_path(dir, "model.packed.safetensors");
  ASSERT_TRUE(write_packed_weights(weights).ok());
  auto bytes = read_file(packed);
  ASSERT_TRUE(bytes.ok());
  auto expect_refused = [&](const std::string& what, const std::string& content, const std::string& needle) {
    ASSERT_TRUE(write_file_atomic(packed, content.data(), content.size()).ok());
    const std::string e = load_error(dir);
    EXPECT_NE(e.find(packed), std::string::npos) << what << ": " << e;
    EXPECT_NE(e.find(needle), std::string::npos) << what << ": " << e;
    EXPECT_NE(e.find("clipclap pack"), std::string::npos) << what << ": " << e;
  };
  const std::string whole(bytes->begin(), bytes->end());
  expect_refused("truncated", whole.substr(0, whole.size() / 2), "truncated");
  expect_refused("empty", "", "not a safetensors file");
  expect_refused("garbage", std::string(4096, '\x7f'), "not a safetensors file");
  // Plain safetensors, not packed: no format or layout in its metadata.
  ASSERT_TRUE(write_safetensors(packed, std::vector<NamedTensor>{{"visual_projection.weight", {1}, {0.0f}}}).ok());
  auto e = load_error(dir);
  EXPECT_NE(e.find("not packed weights"), std::string::npos) << e;
  // The right metadata but a tensor of the wrong shape.
  ASSERT_TRUE(write_safetensors(packed, std::vector<NamedTensor>{{"visual_projection.weight", {1}, {0.0f}}},
                                {{"format", "clipclap-packed-weights"}, {"layout", kPackedLayout}, {"source", file_stamp(weights)}})
                  .ok());
  e = load_error(dir);
  EXPECT_NE(e.find("visual_projection.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("has shape"), std::string::npos) << e;
}

TEST(PackedWeights, AFailedPackLeavesNoFile) {
  const std::string dir = scratch_copy("fail");
  const std::string weights = join_path(dir, "model.safetensors");
  const std::string not_weights = "{\"just\": \"json\"}";
  ASSERT_TRUE(write_file_atomic(weights, not_weights.data(), not_weights.size()).ok());
  auto packed = write_packed_weights(weights);
  ASSERT_FALSE(packed.ok());
  EXPECT_NE(packed.error().message.find(weights), std::string::npos) << packed.error().message;
  // A checkpoint without any linear weight.
  ASSERT_TRUE(write_safetensors(weights, std::vector<NamedTensor>{{"text_model.embeddings.token_embedding.weight", {2, 2}, {1, 2, 3, 4}}}).ok());
  packed = write_packed_weights(weights);
  ASSERT_FALSE(packed.ok());
  EXPECT_NE(packed.error().message.find("no linear weights"), std::string::npos) << packed.error().message;
  EXPECT_FALSE(is_file(join_path(dir, "model.packed.safetensors")));
  EXPECT_TRUE(no_temporary_files(dir));
}

TEST(PackCommand, PacksModelsAndNamesWhatIsWrong) {
  const std::string dir = scratch_copy("cli");
  auto r = test::run_clipclap("pack --model " + dir, true);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(join_path(dir, "model.packed.safetensors")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("linear weights"), std::string::npos) << r.out;
  auto embed = test::run_clipclap("embed --model " + dir + " --text 'a dog'", true);
  EXPECT_EQ(embed.code, 0) << embed.out;

  r = test::run_clipclap("pack --help", true);
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--model"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BA16a64b"), std::string::npos) << r.out;
  r = test::run_clipclap("pack", true);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--model"), std::string::npos) << r.out;
  r = test::run_clipclap("pack --model /nonexistent/model", true);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("/nonexistent/model"), std::string::npos) << r.out;
  const std::string empty = scratch_copy("cli-empty");
  fs::remove(fs::path(empty) / "model.safetensors");
  r = test::run_clipclap("pack --model " + empty, true);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no model.safetensors"), std::string::npos) << r.out;
  EXPECT_FALSE(is_file(join_path(empty, "model.packed.safetensors")));
}

}  // namespace
}  // namespace cc
