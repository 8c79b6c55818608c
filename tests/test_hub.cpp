// clipclap pull and push against the imitation hub (tests/fake_hub.h) on a loopback port:
// the HF cache layout, resume after a cut connection, checksum, 401, 404, a repository without
// safetensors, no network, and a push (LFS basic and multipart, then commit) pulled back.
#include <unistd.h>

#include <filesystem>

#include "core/sha256.h"
#include "fake_hub.h"
#include "model/embedder.h"
#include "test_util.h"

namespace cc {
namespace {

namespace fs = std::filesystem;

std::string file_text(const std::string& path) {
  auto bytes = read_file(path);
  return bytes.ok() ? std::string(bytes->begin(), bytes->end()) : "";
}

class Hub : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = fs::temp_directory_path() / ("clipclap_hub_" + std::to_string(::getpid()) + "_" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(cache_);
    fs::create_directories(cache_);
    // A CLIP checkpoint as the hub holds it, with formats pull should leave alone.
    auto& repo = hub_.repos["openai/clip-tiny"];
    for (const char* f : {"config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
                          "special_tokens_map.json", "model.safetensors"})
      repo.files[f] = {file_text(test::fixture(std::string("models/clip-tiny-c/") + f)),
                       std::string(f) == "model.safetensors" || std::string(f) == "tokenizer.json", ""};
    repo.files["pytorch_model.bin"] = {"not wanted", true, ""};
    repo.files["onnx/model.onnx"] = {"not wanted either", true, ""};
    repo.files["model.packed.safetensors"] = {"packed on another machine", true, ""};
  }
  void TearDown() override { fs::remove_all(cache_); }

  test::Run clipclap(const std::string& args, const std::string& token = "") {
    return test::run_clipclap_env("HF_ENDPOINT=" + hub_.endpoint() + " HF_HUB_CACHE=" + cache_.string() +
                                      " HF_HOME=" + (cache_ / "home").string() + " HF_TOKEN=" + token,
                                  args);
  }
  std::string model_file() const { return hub_.repos.at("openai/clip-tiny").files.at("model.safetensors").content; }

  test::FakeHub hub_;
  fs::path cache_;
};

// FIPS 180-2's examples: the digest that names and checks every downloaded file.
TEST(Sha256, MatchesTheStandardsExamples) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(two_blocks.data(), two_blocks.size()), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million.data(), million.size()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_F(Hub, PullFillsTheHuggingFaceCacheLayout) {
  auto r = clipclap("pull openai/clip-tiny");
  ASSERT_EQ(r.code, 0) << r.out;
  const fs::path repo = cache_ / "models--openai--clip-tiny";
  const fs::path snapshot = repo / "snapshots" / std::string(40, 'a');
  EXPECT_NE(r.out.find(snapshot.string()), std::string::npos) << r.out;
  EXPECT_EQ(file_text((repo / "refs" / "main").string()), std::string(40, 'a'));
  EXPECT_TRUE(fs::is_symlink(snapshot / "model.safetensors"));
  const std::string sha = sha256_hex(model_file().data(), model_file().size());
  EXPECT_EQ(fs::read_symlink(snapshot / "model.safetensors").string(), "../../blobs/" + sha);
  EXPECT_EQ(file_text((snapshot / "model.safetensors").string()), model_file());
  EXPECT_FALSE(fs::exists(snapshot / "pytorch_model.bin"));
  EXPECT_FALSE(fs::exists(snapshot / "onnx"));
  EXPECT_FALSE(fs::exists(snapshot / "model.packed.safetensors"));
  auto model = Embedder::load(snapshot.string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ(model.value()->info().kind, ModelKind::kClip);

  // Again: nothing to fetch; and `embed` takes org/name straight from the cache.
  r = clipclap("pull openai/clip-tiny");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("0 to fetch"), std::string::npos) << r.out;
  r = clipclap("embed --model openai/clip-tiny --text 'a cat'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"modality\":\"text\""), std::string::npos) << r.out;
}

TEST_F(Hub, ResumesAfterACutConnection) {
  hub_.cut_file = "model.safetensors";
  hub_.cut_after = model_file().size() / 2;
  auto r = clipclap("pull openai/clip-tiny");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("was cut"), std::string::npos) << r.out;
  const std::string sha = sha256_hex(model_file().data(), model_file().size());
  const fs::path part = cache_ / "models--openai--clip-tiny" / "blobs" / (sha + ".incomplete");
  ASSERT_TRUE(fs::exists(part));
  EXPECT_EQ(fs::file_size(part), model_file().size() / 2);

  r = clipclap("pull openai/clip-tiny");
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_EQ(hub_.ranges_seen.size(), 1u);
  EXPECT_EQ(hub_.ranges_seen[0], "bytes=" + std::to_string(model_file().size() / 2) + "-");
  EXPECT_FALSE(fs::exists(part));
  const fs::path snapshot = cache_ / "models--openai--clip-tiny" / "snapshots" / std::string(40, 'a');
  EXPECT_EQ(file_text((snapshot / "model.safetensors").string()), model_file());
}

TEST_F(Hub, AWrongChecksumIsRejected) {
  hub_.repos["openai/clip-tiny"].files["model.safetensors"].listed_sha256 = std::string(64, 'e');
  auto r = clipclap("pull openai/clip-tiny");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("sha256 mismatch"), std::string::npos) << r.out;
  const fs::path repo = cache_ / "models--openai--clip-tiny";
  EXPECT_FALSE(fs::exists(repo / "blobs" / std::string(64, 'e')));
  EXPECT_FALSE(fs::exists(repo / "blobs" / (std::string(64, 'e') + ".incomplete")));
  EXPECT_FALSE(fs::exists(repo / "snapshots" / std::string(40, 'a') / "model.safetensors"));
}

TEST_F(Hub, PrivateRepositoriesNeedAToken) {
  hub_.repos["openai/clip-tiny"].private_repo = true;
  auto r = clipclap("pull openai/clip-tiny");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("401"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("set HF_TOKEN"), std::string::npos) << r.out;
  r = clipclap("pull openai/clip-tiny", "hf_wrong");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("refused the token"), std::string::npos) << r.out;
  r = clipclap("pull openai/clip-tiny", hub_.token);
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(Hub, MissingRepositoriesAndWeightsAreExplained) {
  auto r = clipclap("pull nobody/nothing");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("repository nobody/nothing: not found"), std::string::npos) << r.out;
  hub_.repos["old/torch-only"].files["pytorch_model.bin"] = {"weights", true, ""};
  hub_.repos["old/torch-only"].files["config.json"] = {"{}", false, ""};
  r = clipclap("pull old/torch-only");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("has no safetensors weights (files: config.json, pytorch_model.bin)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("save_pretrained(DIR, safe_serialization=True)"), std::string::npos) << r.out;
  r = clipclap("pull not-a-repo");
  EXPECT_EQ(r.code, 2);
}

TEST_F(Hub, OfflineIsAClearError) {
  auto r = test::run_clipclap_env("HF_ENDPOINT=http://127.0.0.1:9 HF_HUB_CACHE=" + cache_.string(), "pull openai/clip-tiny");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("cannot reach 127.0.0.1:9"), std::string::npos) << r.out;
  r = test::run_clipclap_env("HF_HUB_OFFLINE=1 HF_HUB_CACHE=" + cache_.string(), "pull openai/clip-tiny");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("HF_HUB_OFFLINE is set"), std::string::npos) << r.out;
}

TEST_F(Hub, PushUploadsTheBundleAndPullGetsItBack) {
  const std::string bundle = test::fixture_model("clipclap-tiny+packed");  // packed weights are not pushed
  ASSERT_TRUE(fs::exists(fs::path(bundle) / "model.packed.safetensors"));
  auto r = clipclap("push " + bundle + " --repo me/clipclap-tiny");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("set HF_TOKEN"), std::string::npos) << r.out;

  hub_.multipart_above = 1 << 20;  // model.safetensors (2.7 MB) goes in parts, the others in one PUT
  r = clipclap("push " + bundle + " --repo me/clipclap-tiny --message 'tiny bundle'", hub_.token);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("/me/clipclap-tiny/commit/"), std::string::npos) << r.out;
  EXPECT_EQ(hub_.commits, 1);
  EXPECT_GE(hub_.lfs_parts, 3) << r.out;
  EXPECT_GE(hub_.lfs_uploads, 3);  // model.safetensors, tokenizer.json, audio_projection.onnx
  const auto& files = hub_.repos.at("me/clipclap-tiny").files;
  EXPECT_FALSE(files.count("model.packed.safetensors"));
  for (const auto& e : fs::directory_iterator(bundle)) {
    const std::string name = e.path().filename().string();
    if (name == "model.packed.safetensors") continue;
    ASSERT_TRUE(files.count(name)) << name;
    EXPECT_EQ(files.at(name).content, file_text(e.path().string())) << name;
  }

  // Pushing again uploads nothing new through LFS.
  const int uploads = hub_.lfs_uploads;
  r = clipclap("push " + bundle + " --repo me/clipclap-tiny", hub_.token);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(hub_.lfs_uploads, uploads);

  r = clipclap("pull me/clipclap-tiny --include '*.onnx'");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string snapshot = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1, std::string::npos);
  auto pulled = Embedder::load(snapshot.substr(0, snapshot.size() - 1));
  ASSERT_TRUE(pulled.ok()) << pulled.error().message << "\n" << r.out;
  EXPECT_EQ(pulled.value()->info().kind, ModelKind::kClipClap);
}

}  // namespace
}  // namespace cc
