// clipclap train-projection end to end on the fixture checkpoints, with data the test makes:
// two kinds of sound (steady hums, static) with captions that say which, so a projection
// learned on some clips can carry over to clips it has not seen. Then bad inputs.
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "test_util.h"

namespace cc {
namespace {

namespace fs = std::filesystem;

test::Run run(const std::string& args) { return test::run_clipclap("train-projection " + args, true); }

// A scratch folder with hum/static clips, their captions and a captions file.
class TrainData : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("clipclap_train_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::mt19937 rng(5);
    std::normal_distribution<float> noise(0, 0.3f);
    const char* hum[] = {"a low steady hum", "a gentle humming tone", "a pure hum in a quiet room"};
    const char* hiss[] = {"loud harsh static", "crackling static noise", "a hiss of radio static"};
    std::ofstream pairs(dir_ / "pairs.csv");
    pairs << "audio,caption_1,caption_2\n";
    for (int i = 0; i < 40; ++i) {
      const bool is_hum = i % 2 == 0;
      std::vector<float> s(8000);
      for (size_t k = 0; k < s.size(); ++k)
        s[k] = is_hum ? 0.5f * std::sin(2 * static_cast<float>(M_PI) * (150 + 10 * i) * k / 8000) : noise(rng);
      const std::string name = "clip" + std::to_string(i) + ".wav";
      const auto wav = test::float_wav(s, 8000);
      std::ofstream(dir_ / name, std::ios::binary).write(reinterpret_cast<const char*>(wav.data()), wav.size());
      const char** words = is_hum ? hum : hiss;
      pairs << name << "," << words[i % 3] << "," << words[(i + 1) % 3] << "\n";
    }
    std::ofstream captions(dir_ / "captions.txt");
    const char* subjects[] = {"a dog", "rain", "a car", "an orchestra", "a crowd", "the wind", "a train", "birds"};
    const char* verbs[] = {"barking", "falling", "passing", "playing", "cheering", "blowing", "arriving", "singing"};
    for (int i = 0; i < 200; ++i) captions << subjects[i % 8] << " " << verbs[(i / 8) % 8] << " number " << i << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string common() const {
    return "--clip " + test::fixture("models/clip-tiny-a") + " --clap " + test::fixture("models/clap-tiny-a") +
           " --cache '' --epochs 30 --batch 16 --lr 0.01 --val-fraction 0.25 --seed 1 ";
  }
  fs::path dir_;
};

TEST_F(TrainData, BothModesBeatIdentityOnHeldOutDataAndAreRepeatable) {
  for (const std::string mode : {"text-bridge", "audio-caption"}) {
    const std::string out = (dir_ / ("out-" + mode)).string();
    auto r = run(common() + "--mode " + mode + " --captions " + (dir_ / "captions.txt").string() + " --pairs " +
                 (dir_ / "pairs.csv").string() + " --out " + out);
    ASSERT_EQ(r.code, 0) << r.out;
    const auto meta = read_json(out + "/projection_training_metadata.json");
    ASSERT_TRUE(meta.ok());
    const auto& m = meta.value();
    const auto& trained = m["held_out"];
    const auto& identity = m["held_out_identity"];
    std::printf("%s: held-out loss %.4f (identity %.4f), cosine %.4f (%.4f), R@1 text->x %.3f (%.3f), x->text %.3f (%.3f)\n",
                mode.c_str(), trained["loss"].get<double>(), identity["loss"].get<double>(),
                trained["mean_cosine"].get<double>(), identity["mean_cosine"].get<double>(),
                trained["text_to_source"]["R@1"].get<double>(), identity["text_to_source"]["R@1"].get<double>(),
                trained["source_to_text"]["R@1"].get<double>(), identity["source_to_text"]["R@1"].get<double>());
    EXPECT_LT(trained["loss"].get<double>(), identity["loss"].get<double>()) << mode;
    EXPECT_GT(trained["mean_cosine"].get<double>(), identity["mean_cosine"].get<double>()) << mode;
    EXPECT_GT(trained["text_to_source"]["R@1"].get<double>() + trained["source_to_text"]["R@1"].get<double>(),
              identity["text_to_source"]["R@1"].get<double>() + identity["source_to_text"]["R@1"].get<double>())
        << mode;
    for (const char* key : {"clip_model", "clap_model", "data", "mode", "hyperparameters", "seed", "epochs_run", "chosen",
                            "final_train_loss", "wall_time_s"})
      EXPECT_TRUE(m.contains(key)) << key;
    EXPECT_EQ(m["data"][0]["sha256"].get<std::string>().size(), 64u);
    // Same seed, same weights, byte for byte.
    auto again = run(common() + "--mode " + mode + " --captions " + (dir_ / "captions.txt").string() + " --pairs " +
                     (dir_ / "pairs.csv").string() + " --out " + out + "-again");
    ASSERT_EQ(again.code, 0);
    EXPECT_EQ(read_file(out + "/projection.safetensors").value(), read_file(out + "-again/projection.safetensors").value());
  }
}

TEST_F(TrainData, EvalReportsBothSpacesWithEveryCaptionAQuery) {
  const std::string out = (dir_ / "proj").string();
  ASSERT_EQ(run(common() + "--mode audio-caption --pairs " + (dir_ / "pairs.csv").string() + " --out " + out).code, 0);
  std::ofstream labels(dir_ / "labels.csv");
  labels << "filename,category\n";
  for (int i = 0; i < 40; ++i) labels << "clip" << i << ".wav," << (i % 2 == 0 ? "hum" : "static") << "\n";
  labels.close();
  std::ofstream images(dir_ / "images.csv"), audio_images(dir_ / "audio_images.csv");
  images << "image,caption_1,caption_2\n";
  audio_images << "audio,image\n";
  const char* pictures[] = {"photo_420.jpg", "rgba.png", "anim.gif", "still.webp", "rgb24.bmp"};
  for (int i = 0; i < 5; ++i) {
    images << test::fixture(std::string("images/") + pictures[i]) << ",picture " << i << ",a photo of thing " << i << "\n";
    audio_images << "clip" << i << ".wav," << test::fixture(std::string("images/") + pictures[i]) << "\n";
  }
  images.close();
  audio_images.close();
  const auto r = test::run_clipclap("eval --clip " + test::fixture("models/clip-tiny-a") + " --clap " +
                                         test::fixture("models/clap-tiny-a") + " --projection " + out + " --pairs " +
                                         (dir_ / "pairs.csv").string() + " --labels " + (dir_ / "labels.csv").string() +
                                         " --image-pairs " + (dir_ / "images.csv").string() + " --audio-image-pairs " +
                                         (dir_ / "audio_images.csv").string() + " --json",
                                     false);
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string& text = r.out;
  const auto j = nlohmann::json::parse(text);
  for (const char* space : {"shared", "clap_native"}) {
    EXPECT_EQ(j["retrieval"][space]["text_to_audio"]["queries"], 80);  // 40 clips x 2 captions, every caption a query
    EXPECT_EQ(j["retrieval"][space]["audio_to_text"]["queries"], 40);
    for (const char* dir : {"text_to_audio", "audio_to_text"}) {
      const auto& m = j["retrieval"][space][dir];
      EXPECT_LE(m["R@1"].get<double>(), m["R@5"].get<double>());
      EXPECT_LE(m["R@5"].get<double>(), m["R@10"].get<double>());
    }
  }
  EXPECT_EQ(j["image_retrieval"]["text_to_image"]["queries"], 10);
  EXPECT_EQ(j["image_retrieval"]["image_to_text"]["queries"], 5);
  EXPECT_EQ(j["audio_to_image"]["queries"], 5);
  EXPECT_EQ(j["zero_shot"]["classes"], 2);
  EXPECT_EQ(j["zero_shot"]["items"], 40);
  EXPECT_EQ(j["zero_shot"]["prompt"], "This is a sound of {label}.");
}

TEST_F(TrainData, SecondRunReadsTheVectorCache) {
  const std::string cache = (dir_ / "cache").string();
  std::string args = common() + "--mode both --captions " + (dir_ / "captions.txt").string() + " --pairs " +
                     (dir_ / "pairs.csv").string() + " --cache " + cache + " --out ";
  args.replace(args.find("--cache ''"), 10, "");
  ASSERT_EQ(run(args + (dir_ / "first").string()).code, 0);
  size_t entries = 0;
  for (const auto& e : fs::recursive_directory_iterator(cache)) entries += e.is_regular_file();
  // CLAP and CLIP text of 200 captions, 40 clips, and the 6 distinct pair captions (keys dedupe).
  EXPECT_EQ(entries, 200u + 200u + 40u + 6u);
  ASSERT_EQ(run(args + (dir_ / "second").string()).code, 0);
  EXPECT_EQ(read_file((dir_ / "first/projection.safetensors").string()).value(),
            read_file((dir_ / "second/projection.safetensors").string()).value());
}

// Every command that reads weights, on packed copies of the fixtures (used on every machine in
// the tests): train-projection and assemble read CLAP's projection weights through a packed
// layer, which has no [out, in] copy (they crashed there); eval and bench run the towers.
TEST_F(TrainData, EveryCommandRunsOnPackedModels) {
  const test::PackedEverywhere packed;
  const std::string clip = test::fixture_model("clip-tiny-a+packed"), clap = test::fixture_model("clap-tiny-a+packed");
  const std::string models = "--clip " + clip + " --clap " + clap + " ";
  {  // 8 of the clips and 16 captions: enough for every step
    std::ifstream all_pairs(dir_ / "pairs.csv"), all_captions(dir_ / "captions.txt");
    std::ofstream pairs(dir_ / "few_pairs.csv"), captions(dir_ / "few_captions.txt");
    std::string line;
    for (int i = 0; i < 9 && std::getline(all_pairs, line); ++i) pairs << line << "\n";
    for (int i = 0; i < 16 && std::getline(all_captions, line); ++i) captions << line << "\n";
  }
  const auto trained = run(models + "--cache '' --epochs 2 --batch 4 --val-fraction 0.25 --mode both --captions " +
                           (dir_ / "few_captions.txt").string() + " --pairs " + (dir_ / "few_pairs.csv").string() + " --out " +
                           (dir_ / "packed").string());
  ASSERT_EQ(trained.code, 0) << trained.out;
  // The ONNX export holds CLAP's projection weights as the checkpoint has them, packed or not.
  auto onnx = read_file((dir_ / "packed/audio_projection.onnx").string());
  ASSERT_TRUE(onnx.ok());
  EXPECT_GT(onnx->size(), 16u * 16 * 4);

  const auto eval = test::run_clipclap("eval " + models + "--projection " + (dir_ / "packed").string() + " --pairs " +
                                           (dir_ / "few_pairs.csv").string() + " --json",
                                       true);
  EXPECT_EQ(eval.code, 0) << eval.out;
  const auto assembled = test::run_clipclap(
      "assemble " + models + "--projection " + (dir_ / "packed").string() + " --out " + (dir_ / "bundle").string(), true);
  ASSERT_EQ(assembled.code, 0) << assembled.out;
  const auto a = test::run_clipclap("embed --model " + (dir_ / "bundle").string() + " --audio " + test::fixture("audio/tone_48k_pcm16.wav") +
                                        " --text rain",
                                    true);
  EXPECT_EQ(a.code, 0) << a.out;
  for (const std::string& args : {"--model " + clip + " --modality image", "--model " + clap}) {
    const auto bench = test::run_clipclap("bench " + args + " --batch 1 --iters 2 --warmup 0 --json", false);
    ASSERT_EQ(bench.code, 0) << args;
    EXPECT_GT(nlohmann::json::parse(bench.out)["packed_weight_mib"].get<double>(), 0) << bench.out;
  }
}

TEST_F(TrainData, BadInputsNameTheFileAndWriteNothing) {
  const std::string out = (dir_ / "never").string();
  auto expect_fail = [&](const std::string& args, const std::string& needle, int code = 1) {
    auto r = run(common() + args + " --out " + out);
    EXPECT_EQ(r.code, code) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
    EXPECT_FALSE(fs::exists(out + "/projection.safetensors")) << args;
  };
  expect_fail("--mode text-bridge --captions /nonexistent/captions.txt", "/nonexistent/captions.txt");
  std::ofstream(dir_ / "empty.txt").close();
  expect_fail("--mode text-bridge --captions " + (dir_ / "empty.txt").string(), "empty.txt: no captions");
  std::ofstream(dir_ / "wrong.csv") << "name,label\nx,y\n";
  expect_fail("--mode text-bridge --captions " + (dir_ / "wrong.csv").string(), "wrong.csv:1: no caption column");
  expect_fail("--mode audio-caption --pairs " + (dir_ / "wrong.csv").string(), "wrong.csv:1:");
  std::ofstream(dir_ / "bad.jsonl") << "{\"caption\": \"fine\"}\nnot json\n";
  expect_fail("--mode text-bridge --captions " + (dir_ / "bad.jsonl").string(), "bad.jsonl:2:");
  std::ofstream(dir_ / "notaudio.wav") << "this is not audio";
  std::ofstream(dir_ / "badpairs.csv") << "audio,caption\nclip0.wav,a hum\nnotaudio.wav,static\n";
  expect_fail("--mode audio-caption --pairs " + (dir_ / "badpairs.csv").string(), "notaudio.wav");
  expect_fail("--mode text-bridge --captions " + (dir_ / "captions.txt").string() + " --val-fraction 0", "--val-fraction", 2);
  expect_fail("--mode text-bridge --captions " + (dir_ / "captions.txt").string() + " --val-fraction 1", "--val-fraction", 2);
  expect_fail("--mode audio-caption", "--pairs", 2);
  auto help = run("--help");
  EXPECT_EQ(help.code, 0);
  for (const char* flag : {"--clip", "--clap", "--out", "--mode", "--captions", "--pairs", "--epochs", "--batch", "--lr",
                           "--temperature", "--val-fraction", "--seed", "--threads", "--cache"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace cc
