// End to end against transformers: text -> tokens -> tower and file -> decode -> preprocess
// -> tower, for three tiny checkpoints (fp16/bf16/fp32 weights, both pooling rules, odd patch
// size, 64-pixel input). Cosine >= 0.99999 and max |diff| <= 1e-4 for every vector.
#include <cstdio>
#include <filesystem>

#include "core/threads.h"
#include "model/clip_model.h"
#include "test_util.h"
#include "vision/decode_image.h"

namespace cc {
namespace {

class ClipParity : public ::testing::TestWithParam<std::string> {};

std::unique_ptr<ClipModel> load(const std::string& name) {
  auto m = ClipModel::load(test::fixture_model(name), test::fixture_weight_options(name));
  EXPECT_TRUE(m.ok()) << m.error().message;
  if (!m.ok()) return nullptr;
  EXPECT_EQ((*m)->packed_weight_bytes() > 0, test::expects_packed(name)) << name;
  return std::move(m).value();
}

void expect_parity(const std::string& what, const float* got, const std::vector<float>& want, double* worst_cos,
                   double* worst_diff) {
  const double cos = test::cosine(got, want), diff = test::max_abs_diff(got, want);
  EXPECT_GE(cos, test::kMinCosine) << what;
  EXPECT_LE(diff, test::kMaxAbsDiff) << what;
  *worst_cos = std::min(*worst_cos, cos);
  *worst_diff = std::max(*worst_diff, diff);
}

TEST_P(ClipParity, TextEmbeddingsMatchHuggingFace) {
  auto m = load(GetParam());
  ASSERT_TRUE(m);
  const auto ref = test::fixture_json("reference/" + test::base_model(GetParam()) + ".json");
  std::vector<std::string> texts;
  for (const auto& t : ref["texts"]) texts.push_back(t["text"]);
  for (size_t i = 0; i < texts.size(); ++i) {
    auto ids = m->tokenize(texts[i]);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(ids.value(), ref["texts"][i]["ids"].get<std::vector<int32_t>>()) << texts[i];
  }
  auto batch = m->embed_texts(texts);
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  ASSERT_EQ(batch->dim, static_cast<int>(ref["texts"][0]["embedding"].size()));
  double worst_cos = 1, worst_diff = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto want = ref["texts"][i]["embedding"].get<std::vector<float>>();
    expect_parity("batched text '" + texts[i] + "'", batch->row(i), want, &worst_cos, &worst_diff);
    auto alone = m->embed_texts({texts[i]});  // padding must not change a vector
    ASSERT_TRUE(alone.ok());
    expect_parity("single text '" + texts[i] + "'", alone->row(0), want, &worst_cos, &worst_diff);
  }
  std::printf("%s text parity: %zu texts, min cosine %.8f, max |diff| %.2e\n", GetParam().c_str(), texts.size(),
              worst_cos, worst_diff);
}

TEST_P(ClipParity, ImageEmbeddingsMatchHuggingFace) {
  auto m = load(GetParam());
  ASSERT_TRUE(m);
  const auto ref = test::fixture_json("reference/" + test::base_model(GetParam()) + ".json");
  std::vector<Image> images;
  for (const auto& e : ref["images"]) {
    auto img = decode_image_file(test::fixture("images/" + e["file"].get<std::string>()));
    ASSERT_TRUE(img.ok()) << img.error().message;
    images.push_back(std::move(img).value());
  }
  double worst_cos = 1, worst_diff = 0;
  for (size_t start = 0; start < images.size(); start += 8) {  // batches of 8 and a remainder
    const size_t end = std::min(images.size(), start + 8);
    auto e = m->embed_images(std::vector<Image>(images.begin() + start, images.begin() + end));
    ASSERT_TRUE(e.ok()) << e.error().message;
    for (size_t i = start; i < end; ++i)
      expect_parity("image " + ref["images"][i]["file"].get<std::string>(), e->row(i - start),
                    ref["images"][i]["embedding"].get<std::vector<float>>(), &worst_cos, &worst_diff);
  }
  auto one = m->embed_images({images[0]});
  ASSERT_TRUE(one.ok());
  expect_parity("single image", one->row(0), ref["images"][0]["embedding"].get<std::vector<float>>(), &worst_cos,
                &worst_diff);
  std::printf("%s image parity: %zu images, min cosine %.8f, max |diff| %.2e\n", GetParam().c_str(), images.size(),
              worst_cos, worst_diff);
}

TEST_P(ClipParity, SameInputSameVectorAtAnyThreadCount) {
  auto m = load(GetParam());
  ASSERT_TRUE(m);
  set_num_threads(1);
  auto a = m->embed_texts({"a photo of a cat", "rain"});
  set_num_threads(2);
  auto b = m->embed_texts({"a photo of a cat", "rain"});
  auto c = m->embed_texts({"a photo of a cat", "rain"});
  set_num_threads(0);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(b->values, c->values);  // repeatable bit for bit
  EXPECT_LE(test::max_abs_diff(a->values.data(), b->values), 1e-6);
}

// "+packed": the same checkpoints with packed weights beside them (`clipclap pack`).
INSTANTIATE_TEST_SUITE_P(TinyCheckpoints, ClipParity,
                         ::testing::Values("clip-tiny-a", "clip-tiny-b", "clip-tiny-c", "clip-tiny-a+packed",
                                           "clip-tiny-b+packed", "clip-tiny-c+packed"));

TEST(ClipModelLoad, ZeroCopyForFp32Weights) {
  auto c = load("clip-tiny-c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->copied_weight_bytes(), 0u);
}

// A scratch model directory whose files link to clip-tiny-a's, with one file replaced; removed
// at exit.
std::string scratch_model(const std::string& replace, const std::string& content) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("clipclap_model_" + std::to_string(::getpid()) + "_" + replace);
  test::remove_at_exit(dir);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(test::fixture("models/clip-tiny-a"))) {
    const auto name = e.path().filename().string();
    if (name == replace) continue;
    fs::create_symlink(fs::canonical(e.path()), dir / name);
  }
  if (!content.empty()) {
    FILE* f = std::fopen((dir / replace).c_str(), "wb");
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
  }
  return dir.string();
}

TEST(ClipModelLoad, BrokenDirectoriesNameTheirFault) {
  auto expect_error = [](const std::string& dir, const std::string& needle) {
    auto m = ClipModel::load(dir);
    ASSERT_FALSE(m.ok()) << dir;
    EXPECT_NE(m.error().message.find(needle), std::string::npos) << m.error().message;
    EXPECT_NE(m.error().message.find(dir), std::string::npos) << m.error().message;
  };
  expect_error("/nonexistent/model", "not a directory");
  expect_error(scratch_model("model.safetensors", ""), "model.safetensors");
  expect_error(scratch_model("tokenizer.json", ""), "tokenizer.json");
  expect_error(scratch_model("config.json", "{not json"), "config.json");
  expect_error(scratch_model("config.json", R"({"text_config":{"hidden_size":64,"num_attention_heads":4}})"),
               "has shape");
  expect_error(scratch_model("config.json", R"({"text_config":{"hidden_size":"big"}})"), "hidden_size");
  expect_error(scratch_model("config.json", R"({"text_config":{"hidden_size":30,"num_attention_heads":4}})"),
               "num_attention_heads");
  expect_error(scratch_model("preprocessor_config.json", R"({"crop_size":100,"size":100})"), "vision tower takes");
}

}  // namespace
TEST(ClipVisionConfig, ImageSizesWhosePatchGridOverflowsAreRefused) {
  EXPECT_FALSE(read_clip_vision_config({{"vision_config", {{"image_size", 2147483647}, {"patch_size", 1}}}}).ok());
  EXPECT_TRUE(read_clip_vision_config({{"vision_config", {{"image_size", 336}, {"patch_size", 14}}}}).ok());
}

}  // namespace cc
