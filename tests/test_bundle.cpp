// The clipclap bundle: it embeds exactly as the separate CLIP + CLAP + projection do,
// assembling is repeatable and all-or-nothing, and discovery tells the kinds apart by their
// weights, reporting broken directories without stopping at them.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "audio/decode_audio.h"
#include "bundle/discover.h"
#include "model/embedder.h"
#include "test_util.h"
#include "vision/decode_image.h"

namespace cc {
namespace {

namespace fs = std::filesystem;

const std::string kBundle = test::fixture("models/clipclap-tiny");
const std::string kClip = test::fixture("models/clip-tiny-a");
const std::string kClap = test::fixture("models/clap-tiny-a");
const std::string kProjection = test::fixture("train/projection-tiny");

class Scratch : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("clipclap_bundle_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }
  fs::path dir_;
};

void expect_same_vectors(const Embeddings& a, const Embeddings& b, const std::string& what) {
  ASSERT_EQ(a.count, b.count) << what;
  ASSERT_EQ(a.dim, b.dim) << what;
  for (int64_t i = 0; i < a.count; ++i) {
    const std::vector<float> rb(b.row(i), b.row(i) + b.dim);
    EXPECT_GE(test::cosine(a.row(i), rb), test::kMinCosine) << what << " " << i;
    EXPECT_LE(test::max_abs_diff(a.row(i), rb), 1e-6) << what << " " << i;
  }
}

TEST(Bundle, EmbedsExactlyAsTheSeparateModels) {
  auto bundle = Embedder::load(kBundle);
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;
  EXPECT_EQ(bundle.value()->info().kind, ModelKind::kClipClap);
  auto clip = Embedder::load(kClip);
  auto clap = Embedder::load(kClap);
  ASSERT_TRUE(clip.ok() && clap.ok());
  ASSERT_TRUE(clap.value()->attach_projection(kProjection).ok());

  const std::vector<std::string> texts = {"a dog barking", "rain on a tin roof", "", "an orchestra tuning up"};
  auto bt = bundle.value()->embed_texts(texts);
  auto ct = clip.value()->embed_texts(texts);
  ASSERT_TRUE(bt.ok() && ct.ok());
  expect_same_vectors(bt.value(), ct.value(), "text");

  std::vector<Image> images;
  for (const char* f : {"photo_420.jpg", "rgba.png", "anim.gif", "odd_7x5.png"}) {
    auto img = decode_image_file(test::fixture(std::string("images/") + f));
    ASSERT_TRUE(img.ok());
    images.push_back(std::move(img).value());
  }
  auto bi = bundle.value()->embed_images(images);
  auto ci = clip.value()->embed_images(images);
  ASSERT_TRUE(bi.ok() && ci.ok());
  expect_same_vectors(bi.value(), ci.value(), "image");

  std::vector<Audio> clips;
  for (const char* f : {"tone_48k_pcm16.wav", "chirp_44k.flac", "long_23s_8k.flac", "mp3_44k.mp3"}) {
    auto a = decode_audio_file(test::fixture(std::string("audio/") + f));
    ASSERT_TRUE(a.ok());
    clips.push_back(std::move(a).value());
  }
  auto ba = bundle.value()->embed_audio(clips, {});
  auto ca = clap.value()->embed_audio(clips, {});
  ASSERT_TRUE(ba.ok() && ca.ok());
  expect_same_vectors(ba.value(), ca.value(), "audio");
  EXPECT_EQ(ba->dim, bt->dim);  // one space
}

TEST_F(Scratch, AssemblingAgainGivesTheCommittedWeightsAndEveryFile) {
  const std::string out = path("bundle");
  auto r = test::run_clipclap("assemble --clip " + kClip + " --clap " + kClap + " --projection " + kProjection + " --out " + out, true);
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* f : {"clip_config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json",
                        "audio_projection.onnx", "projection_training_metadata.json", "README.md"})
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  EXPECT_EQ(read_file(out + "/model.safetensors").value(), read_file(kBundle + "/model.safetensors").value());
  auto config = read_json(out + "/clip_config.json");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config.value()["model_type"], "clipclap");
  for (const char* section : {"text_config", "vision_config", "audio_config"}) EXPECT_TRUE(config.value().contains(section));
  EXPECT_EQ(config.value()["audio_config"]["sample_rate"], 48000);
  EXPECT_TRUE(config.value()["audio_config"].contains("feature_extractor"));
  // CLAP's text tower is not part of the bundle.
  auto st = SafeTensors::open(out + "/model.safetensors");
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->contains("text_model.embeddings.word_embeddings.weight"));
  EXPECT_TRUE(st->contains("audio_to_clip.weight"));
  auto card = read_file(out + "/README.md");
  ASSERT_TRUE(card.ok());
  EXPECT_NE(std::string(card->begin(), card->end()).find("trained / mean_cosine"), std::string::npos);
}

TEST_F(Scratch, AssembleTrainsOnTheFlyFromCaptions) {
  const std::string out = path("bundle");
  auto r = test::run_clipclap("assemble --clip " + kClip + " --clap " + kClap + " --captions " +
                                  test::fixture("train/captions.txt") + " --out " + out,
                              true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("training one now from --captions"), std::string::npos) << r.out;
  auto meta = read_json(out + "/projection_training_metadata.json");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta.value()["mode"], "text-bridge");
  auto bundle = Embedder::load(out);
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;
  EXPECT_EQ(bundle.value()->info().kind, ModelKind::kClipClap);
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename(), "bundle");  // no leftovers
}

TEST_F(Scratch, AFailedAssembleLeavesNothing) {
  // clap-tiny-b gives 8-d vectors; the projection takes 16.
  const std::string out = path("bundle");
  auto r = test::run_clipclap("assemble --clip " + kClip + " --clap " + test::fixture("models/clap-tiny-b") +
                                  " --projection " + kProjection + " --out " + out,
                              true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("maps 16 -> 16; CLAP gives 8"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_empty(dir_));
  // Swapped arguments are named.
  r = test::run_clipclap("assemble --clip " + kClap + " --clap " + kClip + " --projection " + kProjection + " --out " + out, true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("is a clap model, not clip"), std::string::npos) << r.out;
  // An existing output is kept unless --overwrite.
  fs::create_directories(out);
  r = test::run_clipclap("assemble --clip " + kClip + " --clap " + kClap + " --projection " + kProjection + " --out " + out, true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--overwrite"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_empty(out));
}

TEST_F(Scratch, LeftoversOfKilledRunsAreRemovedByTheNext) {
  // What SIGKILL leaves behind mid-assemble or mid-pack: "<out>.tmp-<pid>" of processes now dead.
  const pid_t dead = [] {
    const pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, nullptr, 0);
    return child;
  }();
  const std::string out = path("bundle");
  const std::string stale_dir = out + ".tmp-" + std::to_string(dead), stale_projection = out + ".projection.tmp-" + std::to_string(dead);
  const std::string live_dir = out + ".tmp-" + std::to_string(getpid());  // a run still going: kept
  for (const auto& d : {stale_dir, stale_projection, live_dir}) {
    fs::create_directories(d);
    std::ofstream(d + "/model.safetensors") << "partial";
  }
  auto r = test::run_clipclap("assemble --clip " + kClip + " --clap " + kClap + " --projection " + kProjection + " --out " + out, true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(stale_dir));
  EXPECT_FALSE(fs::exists(stale_projection));
  EXPECT_TRUE(fs::exists(live_dir));
  fs::remove_all(live_dir);

  const std::string model = path("packed");
  fs::create_directories(model);
  for (const auto& e : fs::directory_iterator(kClip)) fs::create_symlink(fs::canonical(e.path()), model + "/" + e.path().filename().string());
  const std::string stale_file = model + "/model.packed.safetensors.tmp-" + std::to_string(dead);
  std::ofstream(stale_file) << "partial";
  r = test::run_clipclap("pack --model " + model, true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(stale_file));
}

TEST(Discovery, FixturesListEveryKindWithItsCapabilities) {
  auto r = test::run_clipclap("models --models-dir " + test::fixture("models") + " --json", false);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto list = nlohmann::json::parse(r.out);
  std::map<std::string, std::pair<std::string, std::string>> seen;
  for (const auto& m : list) seen[m["name"]] = {m["type"], m["capabilities"]};
  EXPECT_EQ(seen["clipclap-tiny"], std::make_pair(std::string("clipclap"), std::string("text,image,audio")));
  EXPECT_EQ(seen["clip-tiny-a"], std::make_pair(std::string("clip"), std::string("text,image")));
  EXPECT_EQ(seen["clap-tiny-a"], std::make_pair(std::string("clap"), std::string("text,audio")));
  EXPECT_EQ(seen.size(), 7u);
  for (const auto& m : list) EXPECT_GT(m["bytes"].get<uint64_t>(), 0u);
}

TEST_F(Scratch, BrokenModelsAreReportedAndSkipped) {
  auto copy_model = [&](const std::string& from, const std::string& to) {
    fs::create_directories(path(to));
    for (const auto& e : fs::directory_iterator(from)) fs::copy(e.path(), path(to) / e.path().filename());
  };
  auto write = [&](const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(path(rel)).parent_path());
    std::ofstream(path(rel), std::ios::binary) << text;
  };
  copy_model(kBundle, "good/bundle");
  copy_model(kClip, "embedders/openai/clip");  // the Go server's layout
  copy_model(kClip, "truncated");
  fs::resize_file(path("truncated/model.safetensors"), 1000);
  copy_model(kClap, "lying");
  write("lying/config.json", R"({"model_type": "clip"})");
  write("onnx-only/text_model.onnx", "x");
  write("onnx-only/clip_config.json", R"({"model_type": "clipclap"})");
  write("torch-only/config.json", R"({"model_type": "clip"})");
  write("torch-only/pytorch_model.bin", "x");
  copy_model(kClip, "no-bridge");  // CLIP + CLAP weights without W
  fs::copy(kBundle + "/model.safetensors", path("no-bridge/model.safetensors"), fs::copy_options::overwrite_existing);
  {
    auto st = SafeTensors::open(path("no-bridge/model.safetensors"));
    ASSERT_TRUE(st.ok());
    std::vector<TensorView> views;
    for (const auto& n : st->names())
      if (n.rfind("audio_to_clip", 0) != 0) {
        auto raw = st->raw(n);
        views.push_back({n, raw->shape, raw->data, raw->dtype, raw->bytes});
      }
    ASSERT_TRUE(write_safetensors(path("no-bridge/model.safetensors.new"), views).ok());
  }
  fs::rename(path("no-bridge/model.safetensors.new"), path("no-bridge/model.safetensors"));
  // The Hugging Face cache layout: models--org--name/snapshots/<commit>, refs/main.
  const std::string snap = "hub/models--laion--tiny-clap/snapshots/" + std::string(40, 'b');
  copy_model(kClap, snap);
  write("hub/models--laion--tiny-clap/refs/main", std::string(40, 'b'));

  auto found = discover_models(dir_.string());
  ASSERT_TRUE(found.ok());
  std::map<std::string, std::string> kinds;
  for (const auto& m : found->models) kinds[m.name] = model_kind_name(m.info.kind);
  EXPECT_EQ(kinds, (std::map<std::string, std::string>{{"good/bundle", "clipclap"}, {"openai/clip", "clip"}, {"laion/tiny-clap", "clap"}}));
  std::map<std::string, std::string> why;
  for (const auto& s : found->skipped) why[fs::path(s.dir).filename().string()] = s.reason;
  EXPECT_EQ(why.size(), 5u);
  EXPECT_NE(why["truncated"].find("truncated"), std::string::npos) << why["truncated"];
  EXPECT_NE(why["lying"].find("config says model_type 'clip' but the weights hold CLAP's audio tower"), std::string::npos) << why["lying"];
  EXPECT_NE(why["onnx-only"].find("ONNX files only"), std::string::npos) << why["onnx-only"];
  EXPECT_NE(why["torch-only"].find("convert it to model.safetensors"), std::string::npos) << why["torch-only"];
  EXPECT_NE(why["no-bridge"].find("no 'audio_to_clip.weight'"), std::string::npos) << why["no-bridge"];

  auto r = test::run_clipclap("models --models-dir " + dir_.string(), true);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("skipped " + path("lying")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("laion/tiny-clap"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace cc
