// FFmpeg-decoded media against the ffmpeg CLI, on the fixtures scripts/make_fixtures.py made
// with it (tests/fixtures/media): the soundtrack's samples equal the CLI's float output, each
// sampled frame equals the PNG the CLI extracts at its time (pixels and vectors), segments and
// the pooled vector follow the rule in model/video_embed.h, and hostile media gets clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "audio/decode_audio.h"
#include "core/file.h"
#include "model/video_embed.h"
#include "test_util.h"
#include "vision/decode_image.h"

namespace cc {
namespace {

std::string media(const std::string& name) { return test::fixture("media/" + name); }

std::vector<uint8_t> media_bytes(const std::string& name) {
  auto b = read_file(media(name));
  EXPECT_TRUE(b.ok()) << name;
  return b.ok() ? b.value() : std::vector<uint8_t>{};
}

// The ffmpeg CLI's decoding of a file's first audio stream: its rate, and the mean of its
// channels (as clipclap downmixes).
std::vector<double> cli_mono_samples(const std::string& path, int* rate) {
  auto probe = test::run_command("ffprobe -v error -select_streams a:0 -show_entries stream=channels,sample_rate -of default=nw=1 '" + path + "'");
  int channels = 0;
  *rate = 0;
  std::sscanf(probe.out.c_str() + probe.out.find("sample_rate="), "sample_rate=%d", rate);
  std::sscanf(probe.out.c_str() + probe.out.find("channels="), "channels=%d", &channels);
  EXPECT_GT(channels, 0) << probe.out;
  auto raw = test::run_command("ffmpeg -v error -i '" + path + "' -map 0:a:0 -f f64le -c:a pcm_f64le -");
  EXPECT_EQ(raw.code, 0);
  std::vector<double> interleaved(raw.out.size() / sizeof(double));
  std::memcpy(interleaved.data(), raw.out.data(), interleaved.size() * sizeof(double));
  std::vector<double> mono(channels > 0 ? interleaved.size() / channels : 0);
  for (size_t i = 0; i < mono.size(); ++i) {
    double sum = 0;
    for (int c = 0; c < channels; ++c) sum += interleaved[i * channels + c];
    mono[i] = channels == 1 ? sum : sum / channels;
  }
  return mono;
}

// The PNG the ffmpeg CLI extracts for time `t` (the first frame at or after it), decoded.
Image cli_frame(const std::string& path, double t) {
  char ss[32];
  std::snprintf(ss, sizeof ss, "%.6f", std::max(0.0, t - 0.0005));
  auto png = test::run_command(std::string("ffmpeg -v error -ss ") + ss + " -i '" + path + "' -frames:v 1 -f image2pipe -c:v png -");
  EXPECT_EQ(png.code, 0);
  auto image = decode_image(reinterpret_cast<const uint8_t*>(png.out.data()), png.out.size());
  EXPECT_TRUE(image.ok()) << path << " at " << t << ": " << (image.ok() ? "" : image.error().message);
  return image.ok() ? image.value() : Image{};
}

std::unique_ptr<Embedder> bundle() {
  auto m = Embedder::load(test::fixture("models/clipclap-tiny"));
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return m.ok() ? std::move(m).value() : nullptr;
}

// The whole path, as `embed --video` takes it.
Result<VideoEmbedding> embed_video(const Embedder& model, const std::vector<uint8_t>& bytes, const PrepareOptions& options) {
  CC_TRY(PreparedVideo video, prepare_video(model, bytes.data(), bytes.size(), options));
  CallInputs call(1);
  call.add(0, std::move(video));
  std::vector<PreparedInput> items = call.take_tower_inputs();
  CC_TRY(auto vectors, embed_prepared(model, items, 8));
  CC_TRY(CallInputs::ItemVectors embedded, call.item_vectors(vectors, options.video.audio_weight));
  VideoEmbedding v = std::move(*embedded.videos[0]);
  v.pooled = std::move(embedded.vectors[0]);
  return v;
}

TEST(FfmpegAudio, SamplesEqualTheFfmpegCli) {
  for (const char* name : {"audio_only.m4a", "adts.aac", "opus_only.webm", "vorbis.mkv", "h264_aac.mp4", "vp9_opus.webm", "rotated.mp4"}) {
    int rate = 0;
    const std::vector<double> want = cli_mono_samples(media(name), &rate);
    auto got = decode_audio_file(media(name));
    ASSERT_TRUE(got.ok()) << name << ": " << got.error().message;
    EXPECT_EQ(got->sample_rate, rate) << name;
    ASSERT_EQ(got->samples.size(), want.size()) << name;
    ASSERT_GT(want.size(), 1000u) << name;
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(got->samples[i] - want[i]));
    EXPECT_EQ(worst, 0.0) << name;
    std::printf("%s: %zu samples at %d Hz, max |diff| to the ffmpeg CLI %g\n", name, want.size(), rate, worst);
  }
}

TEST(FfmpegAudio, ClipsInContainersEmbedLikeTheirSamples) {
  // An M4A's vector is that of its decoded samples, through the same resampling and features.
  auto model = bundle();
  ASSERT_TRUE(model);
  auto bytes = media_bytes("audio_only.m4a");
  PrepareOptions options;
  auto in = prepare_encoded(*model, Modality::kAudio, bytes.data(), bytes.size(), options);
  ASSERT_TRUE(in.ok()) << in.error().message;
  auto decoded = decode_audio_file(media("audio_only.m4a"));
  ASSERT_TRUE(decoded.ok());
  auto direct = model->embed_audio({decoded.value()}, options.long_audio);
  ASSERT_TRUE(direct.ok());
  std::vector<PreparedInput> items{std::move(in).value()};
  auto v = embed_prepared(*model, items, 1);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(test::max_abs_diff(direct->row(0), (*v)[0]), 0.0);
}

TEST(Video, SampledFramesEqualTheFfmpegCliPngs) {
  auto model = bundle();
  ASSERT_TRUE(model);
  // Each fixture's frame rate: the frame shown at t is the last one at or before it.
  for (const auto& fixture : {std::pair{"h264_aac.mp4", 12.0}, {"vp9_opus.webm", 10.0}, {"silent.mp4", 8.0}, {"rotated.mp4", 10.0}}) {
    const char* name = fixture.first;  // not a structured binding: clang 14 cannot capture those
    const double rate = fixture.second;
    for (double fps : {1.0, 3.0}) {
      auto bytes = media_bytes(name);
      std::vector<double> times;
      std::vector<Image> frames;
      auto info = sample_video_frames(bytes.data(), bytes.size(), fps, 2, {}, [&](double time, double frame_time, const Image& rgb) {
        if (time > 0) {  // (at 0 the first frame, whenever it starts)
          EXPECT_LE(frame_time, time + 1e-6) << name;
          EXPECT_GT(frame_time, time - 1 / rate - 1e-6) << name << " at " << time << ": a later frame was skipped";
        }
        times.push_back(frame_time);
        frames.push_back(rgb);
        return Status(Ok{});
      });
      ASSERT_TRUE(info.ok()) << name << ": " << info.error().message;
      ASSERT_GE(frames.size(), 2u) << name;
      EXPECT_EQ(info->frames_sampled, static_cast<int>(frames.size()));
      int worst = 0;
      for (size_t i = 0; i < frames.size(); ++i) {
        const Image want = cli_frame(media(name), times[i]);
        ASSERT_EQ(frames[i].width, want.width) << name << " frame " << i;
        ASSERT_EQ(frames[i].height, want.height) << name << " frame " << i;
        for (size_t k = 0; k < want.rgb.size(); ++k) worst = std::max(worst, std::abs(frames[i].rgb[k] - want.rgb[k]));
      }
      EXPECT_LE(worst, 1) << name << ": pixels differ from the ffmpeg CLI's PNG by " << worst << " levels";
      std::printf("%s at %g fps: %zu frames (%dx%d, rotated %d), decoded %d, max pixel diff %d\n", name, fps, frames.size(),
                  info->width, info->height, info->rotation, info->frames_decoded, worst);
    }
  }
  // The rotated phone video comes out upright: 48 wide, 80 high.
  auto bytes = media_bytes("rotated.mp4");
  auto info = sample_video_frames(bytes.data(), bytes.size(), 1, 1, {}, [](double, double, const Image&) { return Status(Ok{}); });
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->rotation, 270);
  EXPECT_EQ(info->width, 48);
  EXPECT_EQ(info->height, 80);
}

TEST(Video, FrameVectorsEqualEmbeddingTheCliPngs) {
  auto model = bundle();
  ASSERT_TRUE(model);
  for (const char* name : {"h264_aac.mp4", "rotated.mp4", "vp9_opus.webm"}) {
    PrepareOptions options;
    options.video.fps = 2;
    auto v = embed_video(*model, media_bytes(name), options);
    ASSERT_TRUE(v.ok()) << name << ": " << v.error().message;
    ASSERT_FALSE(v->frames.empty());
    std::vector<Image> pngs;
    for (const auto& f : v->frames) pngs.push_back(cli_frame(media(name), f.frame_time));
    auto want = model->embed_images(pngs);
    ASSERT_TRUE(want.ok());
    double worst = 1;
    for (size_t i = 0; i < v->frames.size(); ++i) worst = std::min(worst, test::cosine(want->row(static_cast<int64_t>(i)), v->frames[i].vector));
    EXPECT_GE(worst, 0.99999) << name;
    std::printf("%s: %zu frames, min cosine to `embed --image` of the CLI's PNGs %.8f\n", name, v->frames.size(), worst);
  }
}

TEST(Video, SegmentsAndThePooledVectorFollowTheRule) {
  auto model = bundle();
  ASSERT_TRUE(model);
  auto bytes = media_bytes("h264_aac.mp4");
  auto soundtrack = decode_audio_file(media("h264_aac.mp4"));
  ASSERT_TRUE(soundtrack.ok());
  for (double w : {0.0, 0.3, 0.5, 1.0}) {
    PrepareOptions options;
    options.video.fps = 2;
    options.video.segment_seconds = 1.5;
    options.video.audio_weight = w;
    auto v = embed_video(*model, bytes, options);
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_TRUE(v->notes.empty());
    ASSERT_EQ(v->segments.size(), 3u);  // 3.5 s in stretches of 1.5 s
    const int dim = model->dim();
    std::vector<double> image(dim, 0), audio(dim, 0);
    for (const auto& f : v->frames)
      for (int i = 0; i < dim; ++i) image[i] += f.vector[i];
    size_t frame = 0;
    for (size_t s = 0; s < v->segments.size(); ++s) {
      const auto& seg = v->segments[s];
      EXPECT_DOUBLE_EQ(seg.start, 1.5 * s);
      // The segment's image vector: the normalised mean of its frames (sampled at 0, 0.5, ...).
      std::vector<double> mean(dim, 0);
      for (; frame < v->frames.size() && v->frames[frame].time < seg.end - 1e-9; ++frame)
        for (int i = 0; i < dim; ++i) mean[i] += v->frames[frame].vector[i];
      double norm = 0;
      for (double x : mean) norm += x * x;
      for (int i = 0; i < dim; ++i) EXPECT_NEAR(seg.image[i], mean[i] / std::sqrt(norm), 1e-6);
      // Its audio vector: its stretch of the soundtrack embedded as a clip of its own.
      const size_t from = static_cast<size_t>(std::llround(seg.start * soundtrack->sample_rate));
      const size_t to = std::min(soundtrack->samples.size(), static_cast<size_t>(std::llround(seg.end * soundtrack->sample_rate)));
      Audio cut{soundtrack->sample_rate, std::vector<double>(soundtrack->samples.begin() + from, soundtrack->samples.begin() + to)};
      auto want = model->embed_audio({cut}, options.long_audio);
      ASSERT_TRUE(want.ok());
      EXPECT_GE(test::cosine(want->row(0), seg.audio), 0.99999) << "segment " << s;
      EXPECT_NEAR(seg.audio_seconds, cut.seconds(), 1e-9);
      for (int i = 0; i < dim; ++i) audio[i] += seg.audio_seconds * seg.audio[i];
    }
    EXPECT_EQ(frame, v->frames.size());
    auto normalise = [](std::vector<double> x) {
      double n = 0;
      for (double e : x) n += e * e;
      for (double& e : x) e /= std::sqrt(n);
      return x;
    };
    image = normalise(image), audio = normalise(audio);
    std::vector<double> pooled(dim);
    for (int i = 0; i < dim; ++i) pooled[i] = (1 - w) * image[i] + w * audio[i];
    pooled = normalise(pooled);
    double worst = 0;
    for (int i = 0; i < dim; ++i) worst = std::max(worst, std::fabs(pooled[i] - v->pooled[i]));
    EXPECT_LE(worst, 1e-6) << "audio weight " << w;
  }
}

TEST(Video, WhatAVideoLacksItSaysAndPoolsWithout) {
  auto model = bundle();
  ASSERT_TRUE(model);
  PrepareOptions options;
  auto silent = embed_video(*model, media_bytes("silent.mp4"), options);
  ASSERT_TRUE(silent.ok()) << silent.error().message;
  ASSERT_EQ(silent->notes.size(), 1u);
  EXPECT_NE(silent->notes[0].find("no soundtrack"), std::string::npos);
  for (const auto& s : silent->segments) EXPECT_TRUE(s.audio.empty());
  EXPECT_EQ(silent->frames.size(), 3u);  // 2.5 s at 1 per second: 0, 1, 2

  auto audio_only = embed_video(*model, media_bytes("audio_only.m4a"), options);
  ASSERT_TRUE(audio_only.ok()) << audio_only.error().message;
  ASSERT_EQ(audio_only->notes.size(), 1u);
  EXPECT_NE(audio_only->notes[0].find("no video stream"), std::string::npos);
  EXPECT_TRUE(audio_only->frames.empty());
  // Its pooled vector is its soundtrack's: one segment, the whole clip, as `embed --audio` gives it.
  auto clip = decode_audio_file(media("audio_only.m4a"));
  ASSERT_TRUE(clip.ok());
  auto want = model->embed_audio({clip.value()}, options.long_audio);
  ASSERT_TRUE(want.ok());
  EXPECT_GE(test::cosine(want->row(0), audio_only->pooled), 0.99999);

  // A CLIP checkpoint embeds the frames and says the soundtrack went unused.
  auto clip_model = Embedder::load(test::fixture("models/clip-tiny-a"));
  ASSERT_TRUE(clip_model.ok());
  auto frames_only = embed_video(*clip_model.value(), media_bytes("h264_aac.mp4"), options);
  ASSERT_TRUE(frames_only.ok()) << frames_only.error().message;
  ASSERT_EQ(frames_only->notes.size(), 1u);
  EXPECT_NE(frames_only->notes[0].find("no audio"), std::string::npos);
  // And an audio-only file has nothing a CLIP model embeds.
  auto nothing = embed_video(*clip_model.value(), media_bytes("audio_only.m4a"), options);
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.error().message.find("neither frames nor a soundtrack"), std::string::npos) << nothing.error().message;
}

void expect_refused(const std::vector<uint8_t>& bytes, const VideoOptions& video, ErrorKind kind, const std::string& needle) {
  static auto model = bundle();
  PrepareOptions options;
  options.video = video;
  auto v = prepare_video(*model, bytes.data(), bytes.size(), options);
  ASSERT_FALSE(v.ok()) << needle;
  EXPECT_EQ(static_cast<int>(v.error().kind), static_cast<int>(kind)) << v.error().message;
  EXPECT_NE(v.error().message.find(needle), std::string::npos) << v.error().message;
}

TEST(Video, LimitsRefuseWithTheirReason) {
  auto bytes = media_bytes("h264_aac.mp4");
  VideoOptions o;
  o.limits.max_seconds = 2;
  expect_refused(bytes, o, ErrorKind::kTooLarge, "the limit is 2.0 s");
  o = {};
  o.limits.max_frames = 3;
  expect_refused(bytes, o, ErrorKind::kTooLarge, "would give 4 frames");
  o = {};
  o.limits.max_pixels = 96 * 64 - 1;
  expect_refused(bytes, o, ErrorKind::kTooLarge, "96x64");
  o = {};
  o.fps = 3;  // 41 pictures decoded (at 1 per second, only 10: the rest is sought past or skipped)
  o.limits.max_decoded_bytes = 96 * 64 * 3 / 2 * 20;
  expect_refused(bytes, o, ErrorKind::kTooLarge, "MiB of pictures");
  MemoryBudget budget(100'000);
  o = {};
  o.limits.budget = &budget;
  expect_refused(bytes, o, ErrorKind::kTooLarge, "decoding 96x64 video");
  o = {};
  o.fps = 0;
  expect_refused(bytes, o, ErrorKind::kInvalidInput, "frame rate");
}

TEST(Video, CorruptAndForeignFilesGetClearErrors) {
  auto bytes = media_bytes("h264_aac.mp4");
  expect_refused({}, {}, ErrorKind::kInvalidInput, "not an MP4");
  expect_refused(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 40), {}, ErrorKind::kInvalidInput, "MP4");
  std::vector<uint8_t> garbage(bytes.begin(), bytes.begin() + 12);
  garbage.resize(5000, 0x5A);
  expect_refused(garbage, {}, ErrorKind::kInvalidInput, "corrupt");
  auto png = read_file(test::fixture("images/odd_7x5.png"));
  ASSERT_TRUE(png.ok());
  expect_refused(png.value(), {}, ErrorKind::kInvalidInput, "not an MP4, M4A, MOV, WebM, Matroska or AAC file");
  // Truncated mid-stream: what is there embeds, or the cut is named; never a crash.
  for (size_t keep : {bytes.size() / 3, bytes.size() / 2, bytes.size() - 100}) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(keep));
    static auto model = bundle();
    PrepareOptions options;
    auto v = prepare_video(*model, cut.data(), cut.size(), options);
    if (!v.ok()) {
      EXPECT_FALSE(v.error().message.empty());
    }
  }
  // A codec outside the allowed list is refused before its decoder opens.
  const auto dir = std::filesystem::temp_directory_path() / ("clipclap_video_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  test::remove_at_exit(dir);
  const std::string mjpeg = (dir / "mjpeg.mp4").string();
  ASSERT_EQ(test::run_command("ffmpeg -v error -y -f lavfi -i testsrc=size=32x32:rate=5:duration=1 -c:v mjpeg '" + mjpeg + "'").code, 0);
  auto m = read_file(mjpeg);
  ASSERT_TRUE(m.ok());
  expect_refused(m.value(), {}, ErrorKind::kUnsupported, "mjpeg");
}

TEST(Video, TheCliNamesTheFileAndWritesNothingOnFailure) {
  const std::string model = " --model " + test::fixture("models/clipclap-tiny");
  const auto dir = std::filesystem::temp_directory_path() / ("clipclap_video_cli_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  test::remove_at_exit(dir);
  const std::string out = (dir / "out.jsonl").string();
  auto bad = test::run_clipclap("embed" + model + " --video " + test::fixture("images/odd_7x5.png") + " --output " + out, true);
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("input 0 (--video): " + test::fixture("images/odd_7x5.png") + ": not an MP4"), std::string::npos) << bad.out;
  EXPECT_FALSE(std::filesystem::exists(out));
  auto limit = test::run_clipclap("embed" + model + " --video " + media("h264_aac.mp4") + " --max-video-seconds 2", true);
  EXPECT_EQ(limit.code, 1);
  EXPECT_NE(limit.out.find("the limit is 2.0 s"), std::string::npos) << limit.out;
  EXPECT_EQ(test::run_clipclap("embed" + model + " --video " + media("h264_aac.mp4") + " --video-fps 0", true).code, 2);
  EXPECT_EQ(test::run_clipclap("embed" + model + " --video " + media("h264_aac.mp4") + " --video-audio-weight 1.5", true).code, 2);
  // --video-frames: each frame's time and vector; the line's other fields always.
  auto ok = test::run_clipclap("embed" + model + " --text rain --video " + media("h264_aac.mp4") + " --video-frames --video-fps 2", false);
  ASSERT_EQ(ok.code, 0);
  std::istringstream lines(ok.out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  const auto video = nlohmann::json::parse(second);
  EXPECT_EQ(video["modality"], "video");
  EXPECT_EQ(video["index"], 1);
  EXPECT_EQ(video["frames"].size(), 7u);  // 0, 0.5, ..., 3.0 s of a 3.5-s video
  EXPECT_EQ(video["segments"].size(), 1u);
  EXPECT_TRUE(video["notes"].empty());
}

TEST(Video, ManifestRowsSniffVideosAndEmbedTheirPooledVector) {
  const auto dir = std::filesystem::temp_directory_path() / ("clipclap_video_manifest_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  test::remove_at_exit(dir);
  const std::string manifest = (dir / "m.jsonl").string(), out = (dir / "out.jsonl").string();
  {
    std::ofstream m(manifest);
    m << nlohmann::json{{"path", media("h264_aac.mp4")}}.dump() << "\n"                         // sniffed: a video
      << nlohmann::json{{"path", media("audio_only.m4a")}}.dump() << "\n"                       // sniffed: audio in an MP4
      << nlohmann::json{{"path", media("silent.mp4")}, {"modality", "video"}}.dump() << "\n"
      << nlohmann::json{{"path", media("vp9_opus.webm")}, {"modality", "audio"}}.dump() << "\n";  // its soundtrack, as asked
  }
  const std::string model = test::fixture("models/clipclap-tiny");
  auto run = test::run_clipclap("embed --model " + model + " --manifest " + manifest + " --output " + out, true);
  ASSERT_EQ(run.code, 0) << run.out;
  auto want = test::run_clipclap("embed --model " + model + " --video " + media("h264_aac.mp4") + " --audio " + media("audio_only.m4a") +
                                     " --video " + media("silent.mp4") + " --audio " + media("vp9_opus.webm"),
                                 false);
  ASSERT_EQ(want.code, 0);
  std::ifstream got_lines(out);
  std::istringstream want_lines(want.out);
  std::string got, expected;
  for (const char* modality : {"video", "audio", "video", "audio"}) {
    ASSERT_TRUE(std::getline(got_lines, got) && std::getline(want_lines, expected));
    const auto g = nlohmann::json::parse(got), w = nlohmann::json::parse(expected);
    EXPECT_EQ(g["modality"], modality) << got.substr(0, 200);
    EXPECT_TRUE(g["error"].is_null()) << got.substr(0, 300);
    EXPECT_LE(test::max_abs_diff(g["embedding"].get<std::vector<float>>().data(), w["embedding"].get<std::vector<float>>()), 1e-6);
  }
}

}  // namespace
}  // namespace cc
