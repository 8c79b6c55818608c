// The clipclap binary as a user runs it.
#include <sys/wait.h>

#include <cstdio>
#include <sstream>

#include "test_util.h"

namespace cc {
namespace {

test::Run run(const std::string& args, bool merge_stderr = false) { return test::run_clipclap(args, merge_stderr); }

const std::string kModel = "embed --model " + test::fixture("models/clip-tiny-a");

TEST(Cli, EmbedPrintsOneJsonLinePerInputInOrder) {
  auto r = run(kModel + " --text 'a photo of a cat' --image " + test::fixture("images/photo_420.jpg") + " --text ''");
  ASSERT_EQ(r.code, 0);
  std::istringstream lines(r.out);
  const auto ref = test::fixture_json("reference/clip-tiny-a.json");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 3u);
  const std::vector<std::string> modality = {"text", "image", "text"};
  const std::vector<nlohmann::json> want = {ref["texts"][0]["embedding"], ref["images"][0]["embedding"],
                                            ref["texts"][1]["embedding"]};
  ASSERT_EQ(ref["images"][0]["file"], "photo_420.jpg");
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rows[i]["index"], i);
    EXPECT_EQ(rows[i]["modality"], modality[i]);
    EXPECT_EQ(rows[i]["dim"], 16);
    const auto got = rows[i]["embedding"].get<std::vector<float>>();
    EXPECT_GE(test::cosine(got.data(), want[i].get<std::vector<float>>()), test::kMinCosine);
  }
}

TEST(Cli, BadInputNamesItAndFailsWithoutPartialOutput) {
  const std::string out = "/tmp/clipclap_cli_out_" + std::to_string(::getpid()) + ".jsonl";
  std::remove(out.c_str());
  auto r = run(kModel + " --text ok --image /nonexistent/cat.jpg --output " + out, true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("/nonexistent/cat.jpg"), std::string::npos) << r.out;
  EXPECT_FALSE(is_file(out));
  auto corrupt = run(kModel + " --image " + test::fixture("reference/clip_tokenizer.json"), true);
  EXPECT_EQ(corrupt.code, 1);
  EXPECT_NE(corrupt.out.find("not an image"), std::string::npos) << corrupt.out;
  auto ok = run(kModel + " --text ok --output " + out);
  EXPECT_EQ(ok.code, 0);
  EXPECT_TRUE(is_file(out));
  std::remove(out.c_str());
}

// Files are decoded several at a time: the output, and the errors, stay in input order.
TEST(Cli, ManyFilesGiveTheSameLinesAndErrorsInInputOrder) {
  std::string images, audio;
  for (const char* f : {"photo_420.jpg", "gray.jpg", "rgba.png", "palette8.bmp", "odd_7x5.png", "still.webp"})
    images += std::string(" --image ") + test::fixture("images/") + f;
  auto all = run(kModel + images);
  ASSERT_EQ(all.code, 0);
  EXPECT_EQ(run(kModel + images).out, all.out);
  std::string one_by_one;
  for (const char* f : {"photo_420.jpg", "gray.jpg", "rgba.png", "palette8.bmp", "odd_7x5.png", "still.webp"}) {
    auto r = run(kModel + " --image " + test::fixture("images/") + f);
    ASSERT_EQ(r.code, 0) << f;
    one_by_one += r.out;
  }
  std::istringstream a(all.out), b(one_by_one);
  size_t rows = 0;
  for (std::string x, y; std::getline(a, x) && std::getline(b, y); ++rows) {
    const auto got = nlohmann::json::parse(x)["embedding"].get<std::vector<float>>();
    const auto alone = nlohmann::json::parse(y)["embedding"].get<std::vector<float>>();
    EXPECT_EQ(nlohmann::json::parse(x)["index"], rows);
    EXPECT_GE(test::cosine(got.data(), alone), test::kMinCosine) << rows;
  }
  EXPECT_EQ(rows, 6u);

  for (const char* f : {"tone_48k_pcm16.wav", "chirp_44k.flac", "noise_16k.ogg", "mp3_44k.mp3"})
    audio += std::string(" --audio ") + test::fixture("audio/") + f;
  const std::string clap = "embed --model " + test::fixture("models/clap-tiny-a");
  auto clips = run(clap + audio);
  ASSERT_EQ(clips.code, 0);
  EXPECT_EQ(run(clap + audio).out, clips.out);

  auto bad = run(clap + " --audio /nonexistent/a.wav" + audio + " --audio " + test::fixture("images/gray.jpg") +
                 " --audio /nonexistent/b.wav", true);
  EXPECT_EQ(bad.code, 1);
  const size_t first = bad.out.find("input 0 (--audio): "), second = bad.out.find("input 5 (--audio): "),
               third = bad.out.find("input 6 (--audio): ");
  ASSERT_NE(first, std::string::npos) << bad.out;
  ASSERT_NE(second, std::string::npos) << bad.out;
  ASSERT_NE(third, std::string::npos) << bad.out;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_NE(bad.out.find("gray.jpg"), std::string::npos) << bad.out;
  EXPECT_EQ(bad.out.find("input 1 "), std::string::npos) << bad.out;
}

TEST(Cli, EmbedsAudioWithADeterministicLongAudioMode) {
  const auto ref = test::fixture_json("reference/clap-tiny-a.json");
  nlohmann::json want;
  for (const auto& e : ref["audio"])
    if (e["file"] == "long_23s_8k.flac") want = e;
  ASSERT_FALSE(want.is_null());
  for (const std::string mode : {"windows", "first", "center"}) {
    auto r = run("embed --model " + test::fixture("models/clap-tiny-a") + " --audio " +
                 test::fixture("audio/long_23s_8k.flac") + " --long-audio " + mode);
    ASSERT_EQ(r.code, 0) << mode;
    const auto row = nlohmann::json::parse(r.out);
    EXPECT_EQ(row["modality"], "audio");
    const auto got = row["embedding"].get<std::vector<float>>();
    EXPECT_GE(test::cosine(got.data(), want[mode].get<std::vector<float>>()), test::kMinCosine) << mode;
  }
  auto again = run("embed --model " + test::fixture("models/clap-tiny-a") + " --audio " + test::fixture("audio/long_23s_8k.flac"));
  auto once_more = run("embed --model " + test::fixture("models/clap-tiny-a") + " --audio " + test::fixture("audio/long_23s_8k.flac"));
  EXPECT_EQ(again.out, once_more.out);  // same input, same vector
}

TEST(Cli, AudioErrorsNameTheInput) {
  const std::string clap = "embed --model " + test::fixture("models/clap-tiny-a");
  auto wrong_modality = run(clap + " --image " + test::fixture("images/photo_420.jpg"), true);
  EXPECT_EQ(wrong_modality.code, 1);
  EXPECT_NE(wrong_modality.out.find("input 0 (--image)"), std::string::npos) << wrong_modality.out;
  EXPECT_NE(wrong_modality.out.find("is a clap model, which embeds text,audio"), std::string::npos) << wrong_modality.out;
  auto audio_to_clip = run(kModel + " --audio " + test::fixture("audio/tone_48k_pcm16.wav"), true);
  EXPECT_EQ(audio_to_clip.code, 1);
  EXPECT_NE(audio_to_clip.out.find("is a clip model, which embeds text,image"), std::string::npos) << audio_to_clip.out;
  auto not_audio = run(clap + " --audio " + test::fixture("images/photo_420.jpg"), true);
  EXPECT_EQ(not_audio.code, 1);
  EXPECT_NE(not_audio.out.find("photo_420.jpg"), std::string::npos) << not_audio.out;
  auto too_long = run(clap + " --audio " + test::fixture("audio/long_23s_8k.flac") + " --max-audio-seconds 5", true);
  EXPECT_EQ(too_long.code, 1);
  EXPECT_NE(too_long.out.find("limit"), std::string::npos) << too_long.out;
  auto fusion = run(clap + " --audio " + test::fixture("audio/long_23s_8k.flac") + " --long-audio fusion", true);
  EXPECT_EQ(fusion.code, 1);
  EXPECT_NE(fusion.out.find("fused checkpoint"), std::string::npos) << fusion.out;
  EXPECT_EQ(run(clap + " --audio x.wav --long-audio randomly").code, 2);
  EXPECT_EQ(run(clap + " --audio x.wav --window-hop 10x").code, 2);
}

TEST(Cli, UsageErrorsAndHelp) {
  EXPECT_EQ(run("embed --bogus").code, 2);
  EXPECT_EQ(run("embed --text hi").code, 2);  // no --model
  EXPECT_EQ(run("embed " + kModel).code, 2);  // nothing to embed
  EXPECT_EQ(run("embed " + kModel + " --batch 0 --text x").code, 2);
  EXPECT_EQ(run("frobnicate").code, 2);
  auto bad_model = run("embed --model /nonexistent --text x", true);
  EXPECT_EQ(bad_model.code, 1);
  EXPECT_NE(bad_model.out.find("/nonexistent"), std::string::npos);
  auto help = run("embed --help");
  EXPECT_EQ(help.code, 0);
  for (const char* flag : {"--model", "--text", "--image", "--audio", "--long-audio", "--window-hop", "--max-audio-seconds",
                           "--batch", "--threads", "--max-pixels", "--output"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  EXPECT_EQ(run("--help").code, 0);
  EXPECT_EQ(run("bench --help").code, 0);
}

}  // namespace
}  // namespace cc
