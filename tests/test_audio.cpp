// Audio against the Python reference pipeline: soundfile decoding, python-soxr HQ
// resampling, ClapFeatureExtractor features (<= 1e-3 dB) and ClapModel.get_audio_features
// (cosine >= 0.99999), for every format and rate in the fixtures; then hostile input.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include <soxr.h>

#include "audio/decode_audio.h"
#include "audio/resample.h"
#include "model/clap_model.h"
#include "test_util.h"

namespace cc {
namespace {

std::vector<double> read_f64(const std::string& rel) {
  auto raw = read_file(test::fixture(rel));
  EXPECT_TRUE(raw.ok()) << rel;
  std::vector<double> v(raw.ok() ? raw->size() / 8 : 0);
  if (raw.ok()) std::memcpy(v.data(), raw->data(), v.size() * 8);
  return v;
}

// The reference keeps the start, middle and end 1024 samples of long signals.
std::vector<double> slices(const std::vector<double>& x, size_t n = 1024) {
  if (x.size() <= 3 * n) return x;
  const size_t mid = x.size() / 2 - n / 2;
  std::vector<double> out(x.begin(), x.begin() + n);
  out.insert(out.end(), x.begin() + mid, x.begin() + mid + n);
  out.insert(out.end(), x.end() - n, x.end());
  return out;
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

bool lossy(const std::string& f) { return f.find(".ogg") != std::string::npos || f.find(".mp3") != std::string::npos; }

TEST(AudioDecode, EveryFormatDecodesAsSoundfileDoes) {
  const auto index = test::fixture_json("reference/audio.json");
  ASSERT_GE(index.size(), 12u);
  for (const auto& e : index) {
    const std::string f = e["file"];
    auto a = decode_audio_file(test::fixture("audio/" + f));
    ASSERT_TRUE(a.ok()) << f << ": " << a.error().message;
    EXPECT_EQ(a->sample_rate, e["rate"].get<int>()) << f;
    EXPECT_EQ(a->samples.size(), e["decoded_length"].get<size_t>()) << f;
    const double d = max_diff(slices(a->samples), read_f64("audio_reference/" + f + ".decoded.f64"));
    // PCM and FLAC are exact; lossy decoders (Vorbis, Opus, MP3) are float code whose builds
    // differ between Debian's libraries and the soundfile wheel's.
    EXPECT_LE(d, lossy(f) ? 1e-4 : 1e-9) << f;
    std::printf("decode %-24s %6d Hz %8zu samples, max |diff| %.2e\n", f.c_str(), a->sample_rate, a->samples.size(), d);
  }
}

TEST(AudioResample, MatchesPythonSoxrHq) {
  for (const auto& e : test::fixture_json("reference/audio.json")) {
    const std::string f = e["file"];
    auto a = decode_audio_file(test::fixture("audio/" + f));
    ASSERT_TRUE(a.ok());
    auto y = resample(a->samples, a->sample_rate, 48000);
    ASSERT_TRUE(y.ok()) << y.error().message;
    EXPECT_EQ(y->size(), e["length_48k"].get<size_t>()) << f;
    const double d = max_diff(slices(y.value()), read_f64("audio_reference/" + f + ".48k.f64"));
    EXPECT_LE(d, lossy(f) ? 1e-4 : 1e-6) << f;
    std::printf("resample %-24s -> %8zu samples, max |diff| %.2e\n", f.c_str(), y->size(), d);
  }
}

std::unique_ptr<ClapModel> load(const std::string& name) {
  auto m = ClapModel::load(test::fixture_model(name), test::fixture_weight_options(name));
  EXPECT_TRUE(m.ok()) << m.error().message;
  if (!m.ok()) return nullptr;
  EXPECT_EQ((*m)->packed_weight_bytes() > 0, test::expects_packed(name)) << name;
  return std::move(m).value();
}

// libsoxr's one-shot call, with librosa's length: what resample() did before it streamed.
std::vector<double> oneshot_resample(const std::vector<double>& x, int in_rate, int out_rate) {
  if (in_rate == out_rate) return x;
  const size_t n_out = static_cast<size_t>(std::ceil(static_cast<double>(x.size()) * out_rate / in_rate));
  std::vector<double> y(n_out + 16);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT64_I, SOXR_FLOAT64_I);
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  size_t done = 0;
  EXPECT_EQ(soxr_oneshot(in_rate, out_rate, 1, x.data(), x.size(), nullptr, y.data(), y.size(), &done, &io, &q, nullptr), nullptr);
  y.resize(done);
  y.resize(n_out, 0.0);
  return y;
}

TEST(AudioResample, BlockwiseEqualsOneShotExactly) {
  for (const std::string f : {"chirp_44k.flac", "long_23s_8k.flac", "noise_16k.ogg", "short_8k_u8.wav", "float64_22k.wav"}) {
    auto a = decode_audio_file(test::fixture("audio/" + f));
    ASSERT_TRUE(a.ok()) << f;
    const auto want = oneshot_resample(a->samples, a->sample_rate, 48000);
    for (size_t block : {size_t{1}, size_t{7}, size_t{4096}, size_t{8192}, size_t{100000}}) {
      if (block == 1 && a->samples.size() > 50000) continue;  // slow, and 7 covers odd blocks
      auto r = Resampler::create(a->sample_rate, 48000);
      ASSERT_TRUE(r.ok());
      std::vector<double> got;
      for (size_t at = 0; at < a->samples.size(); at += block)
        ASSERT_TRUE(r.value()->push(a->samples.data() + at, std::min(block, a->samples.size() - at), got).ok());
      ASSERT_TRUE(r.value()->finish(got).ok());
      ASSERT_EQ(got.size(), want.size()) << f << " block " << block;
      EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(double)), 0) << f << " block " << block;
    }
  }
}

TEST(ClapFeatures, LogMelMatchesHuggingFaceWithin1e3Db) {
  auto m = load("clap-tiny-a");
  ASSERT_TRUE(m);
  double worst = 0;
  for (const auto& e : test::fixture_json("reference/audio.json")) {
    if (!e.contains("mel_every")) continue;
    const std::string f = e["file"];
    auto a = decode_audio_file(test::fixture("audio/" + f));
    ASSERT_TRUE(a.ok());
    auto features = m->clip_features(a.value(), {});
    ASSERT_TRUE(features.ok()) << features.error().message;
    ASSERT_EQ(features->windows, 1);
    const std::vector<float>& mel = features->mel;
    const int bins = 64, every = e["mel_every"];
    ASSERT_EQ(mel.size(), e["mel_frames"].get<size_t>() * bins) << f;
    auto raw = read_file(test::fixture("audio_reference/" + f + ".mel.f32"));
    ASSERT_TRUE(raw.ok());
    std::vector<float> want(raw->size() / 4);
    std::memcpy(want.data(), raw->data(), raw->size());
    double d = 0;
    for (size_t r = 0; r < want.size() / bins; ++r)
      for (int b = 0; b < bins; ++b)
        d = std::max(d, std::fabs(static_cast<double>(mel[(r * every) * bins + b]) - want[r * bins + b]));
    EXPECT_LE(d, 1e-3) << f << " (dB)";
    worst = std::max(worst, d);
  }
  std::printf("mel parity: max |diff| %.2e dB\n", worst);
}

TEST(ClapFeatures, SlaneyBankForRandTruncAndShortClipsRepeatPad) {
  auto m = load("clap-tiny-a");
  ASSERT_TRUE(m);
  const auto& c = m->features().config();
  EXPECT_EQ(c.frames(), 1001);
  // repeatpad: 0.3 s = 14400 samples tiled int(480000 / 14400) = 33 times, then zeros.
  std::vector<double> clip(14400);
  for (size_t i = 0; i < clip.size(); ++i) clip[i] = std::sin(0.01 * i);
  const auto w = m->features().pad(clip);
  ASSERT_EQ(w.size(), 480000u);
  EXPECT_EQ(w[14400 * 32 + 5], clip[5]);
  EXPECT_EQ(w[14400 * 33 + 5], 0.0);
  // Long clips: windows every hop, the last aligned to the end.
  EXPECT_EQ(m->features().window_starts(1'104'000, {}), (std::vector<size_t>{0, 480000, 624000}));
  EXPECT_EQ(m->features().window_starts(1'104'000, {LongAudio::kCenter, 10}), (std::vector<size_t>{312000}));
  EXPECT_EQ(m->features().window_starts(480000, {}), (std::vector<size_t>{0}));
}

// The features of a whole clip computed the way they were before the pipeline streamed: the
// clip resampled at once, then every window's log-mel cut from it.
std::vector<float> whole_clip_features(const ClapModel& m, const Audio& a, const LongAudioOptions& opts) {
  const auto& fx = m.features();
  const std::vector<double> wave = oneshot_resample(a.samples, a.sample_rate, fx.config().sampling_rate);
  const size_t max_len = static_cast<size_t>(fx.config().max_samples());
  std::vector<float> out;
  auto add = [&](const std::vector<float>& mel) {
    for (int c = 0; c < fx.channels(); ++c) out.insert(out.end(), mel.begin(), mel.end());
  };
  if (wave.size() < max_len) {
    add(fx.log_mel(fx.pad(wave).data()));
  } else if (fx.fused() && opts.mode == LongAudio::kFusion && wave.size() > max_len) {
    const auto whole = fx.log_mel(wave.data(), wave.size());
    const int bins = fx.config().feature_size, total = static_cast<int>(whole.size() / bins);
    if (total == fx.config().frames()) add(whole);
    else out = fusion_chunks(whole, total, fx.config().frames(), bins);
  } else {
    for (size_t s : fx.window_starts(wave.size(), opts)) add(fx.log_mel(wave.data() + s));
  }
  return out;
}

TEST(ClapFeatures, StreamedFeaturesEqualTheWholeClipsExactly) {
  for (const std::string model : {"clap-tiny-a", "clap-tiny-fused"}) {
    auto m = load(model);
    ASSERT_TRUE(m);
    for (const std::string f : {"long_23s_8k.flac", "chirp_44k.flac", "exact_10s_16k.flac", "stereo_44k_pcm24.wav"}) {
      auto bytes = read_file(test::fixture("audio/" + f));
      ASSERT_TRUE(bytes.ok());
      auto a = decode_audio(bytes->data(), bytes->size());
      ASSERT_TRUE(a.ok());
      std::vector<LongAudioOptions> modes = {{LongAudio::kWindows, 10}, {LongAudio::kWindows, 3}, {LongAudio::kWindows, 0.7},
                                             {LongAudio::kFirst, 10},   {LongAudio::kCenter, 10}};
      if (m->features().fused()) modes.push_back({LongAudio::kFusion, 10});
      for (const auto& opts : modes) {
        const std::string what = model + " " + f + " mode " + std::to_string(static_cast<int>(opts.mode)) + " hop " + std::to_string(opts.hop_seconds);
        MemoryBudget budget(64 << 20);
        AudioLimits limits;
        limits.budget = &budget;
        auto streamed = m->clip_features(bytes->data(), bytes->size(), limits, opts);
        ASSERT_TRUE(streamed.ok()) << what << ": " << streamed.error().message;
        const auto want = whole_clip_features(*m, a.value(), opts);
        ASSERT_EQ(streamed->mel.size(), want.size()) << what;
        EXPECT_EQ(std::memcmp(streamed->mel.data(), want.data(), want.size() * sizeof(float)), 0) << what;
        EXPECT_EQ(budget.in_use(), 0u) << what;  // given back once the features are handed over
      }
    }
  }
}

TEST(ClapFeatures, ALongClipCostsItsWindowsNotItsLength) {
  // 120 s of a tone at 96 kHz: 92 MB as samples at that rate, 46 MB at the model's 48 kHz.
  auto m = load("clap-tiny-a");
  ASSERT_TRUE(m);
  std::vector<float> s(96000 * 120);
  for (size_t i = 0; i < s.size(); ++i) s[i] = 0.3f * std::sin(0.05f * static_cast<float>(i % 100000));
  const auto wav = test::float_wav(s, 96000);
  MemoryBudget budget(24 << 20);
  AudioLimits limits;
  limits.budget = &budget;
  auto f = m->clip_features(wav.data(), wav.size(), limits, {});
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->windows, 12);
  std::printf("120-s clip at 96 kHz: %.1f MB of budget at most (%d windows of features: %.1f MB)\n", budget.peak() / 1048576.0,
              f->windows, f->mel.size() * 4 / 1048576.0);
  EXPECT_LT(budget.peak(), 16u << 20);
}

class ClapParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ClapParity, AudioEmbeddingsMatchHuggingFace) {
  auto m = load(GetParam());
  ASSERT_TRUE(m);
  const auto ref = test::fixture_json("reference/" + test::base_model(GetParam()) + ".json");
  double worst_cos = 1, worst_diff = 0;
  std::vector<Audio> batch;
  std::vector<std::vector<float>> batch_want, batch_single;
  for (const auto& e : ref["audio"]) {
    const std::string f = e["file"];
    auto a = decode_audio_file(test::fixture("audio/" + f));
    ASSERT_TRUE(a.ok());
    for (const auto& [mode_name, want_json] : e.items()) {
      if (mode_name == "file") continue;
      LongAudioOptions opts;
      if (mode_name != "all") opts.mode = parse_long_audio(mode_name).value();
      auto v = m->embed_audio({a.value()}, opts);
      ASSERT_TRUE(v.ok()) << v.error().message;
      const auto want = want_json.get<std::vector<float>>();
      const double cos = test::cosine(v->row(0), want), diff = test::max_abs_diff(v->row(0), want);
      EXPECT_GE(cos, test::kMinCosine) << f << " " << mode_name;
      EXPECT_LE(diff, test::kMaxAbsDiff) << f << " " << mode_name;
      worst_cos = std::min(worst_cos, cos);
      worst_diff = std::max(worst_diff, diff);
      if (mode_name == "all") {
        batch.push_back(a.value());
        batch_want.push_back(want);
        batch_single.emplace_back(v->row(0), v->row(0) + v->dim);
      }
    }
  }
  auto batched = m->embed_audio(batch, {});  // clips batched together give the same vectors
  ASSERT_TRUE(batched.ok());
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_GE(test::cosine(batched->row(i), batch_want[i]), test::kMinCosine);
    EXPECT_LE(test::max_abs_diff(batched->row(i), batch_single[i]), 1e-6) << "clip " << i << " batched vs alone";
  }
  std::printf("%s audio parity: %zu clips (+ long-audio modes), min cosine %.8f, max |diff| %.2e\n",
              GetParam().c_str(), ref["audio"].size(), worst_cos, worst_diff);
}

// "+packed": the same checkpoints with packed weights beside them (`clipclap pack`).
INSTANTIATE_TEST_SUITE_P(TinyCheckpoints, ClapParity,
                         ::testing::Values("clap-tiny-a", "clap-tiny-b", "clap-tiny-fused", "clap-tiny-a+packed",
                                           "clap-tiny-b+packed", "clap-tiny-fused+packed"));

TEST(ClapModelLoad, MapsOnlyTheAudioTower) {
  auto m = load("clap-tiny-a");
  ASSERT_TRUE(m);
  auto size = MappedFile::file_size(test::fixture("models/clap-tiny-a/model.safetensors"));
  ASSERT_TRUE(size.ok());
  EXPECT_LT(m->mapped_weight_bytes(), size.value());
  std::printf("clap-tiny-a: %zu of %zu weight bytes mapped\n", m->mapped_weight_bytes(), size.value());
}

TEST(AudioDecode, HostileInputGetsClearErrors) {
  auto expect_error = [](const std::vector<uint8_t>& bytes, const std::string& needle, const AudioLimits& limits = {}) {
    auto a = decode_audio(bytes.data(), bytes.size(), limits);
    ASSERT_FALSE(a.ok()) << needle;
    EXPECT_NE(a.error().message.find(needle), std::string::npos) << a.error().message;
  };
  expect_error({}, "empty audio data");
  expect_error(test::float_wav({}, 48000), "no samples");
  expect_error(test::float_wav({0.1f, NAN, 0.2f}, 48000), "NaN or infinite");
  expect_error(test::float_wav({0.1f, INFINITY}, 48000), "NaN or infinite");
  expect_error(test::float_wav({0.1f, 0.2f}, 1'000'000'000), "sample rate");
  expect_error(test::float_wav(std::vector<float>(48000 * 3), 48000), "limit", AudioLimits{2.0});
  const std::string text = "this is not audio at all, just text in a file";
  expect_error(std::vector<uint8_t>(text.begin(), text.end()), "not audio");
  std::vector<uint8_t> m4a = {0, 0, 0, 0x20, 'f', 't', 'y', 'p', 'M', '4', 'A', ' ', 0, 0, 0, 0};
  expect_error(m4a, "corrupt or unreadable MP4 container");
  expect_error({0x1A, 0x45, 0xDF, 0xA3, 0x9f, 0x42, 0x86, 0x81}, "corrupt or unreadable Matroska container");
  auto ogg = read_file(test::fixture("audio/noise_16k.ogg"));
  ASSERT_TRUE(ogg.ok());
  auto flipped = ogg.value();
  flipped[100] ^= 0xFF;  // inside the Vorbis headers: libsndfile 1.2.0 would leak on this
  expect_error(flipped, "corrupt Ogg stream");
  expect_error(std::vector<uint8_t>(ogg->begin(), ogg->begin() + ogg->size() / 2), "truncated Ogg stream");
  auto png = read_file(test::fixture("images/odd_7x5.png"));
  ASSERT_TRUE(png.ok());
  expect_error(png.value(), "not audio");
  auto missing = decode_audio_file("/nonexistent/rain.wav");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/rain.wav"), std::string::npos);
}

TEST(AudioDecode, HugeFiniteSamplesAreRefused) {
  // Found by fuzzing: finite float64 samples past ~1e38 overflow libsoxr, and every vector was NaN.
  for (double v : {1e300, -1e38, 2e6}) {
    const auto wav = test::ieee_wav(std::vector<double>{0.1, v, 0.2, -0.1}, 22050);
    auto a = decode_audio(wav.data(), wav.size());
    ASSERT_FALSE(a.ok()) << v;
    EXPECT_NE(a.error().message.find("far outside full scale"), std::string::npos) << a.error().message;
  }
  const auto loud = test::ieee_wav(std::vector<double>{0.1, 3.5, -900.0, 0.2}, 22050);  // past full scale, but audio
  EXPECT_TRUE(decode_audio(loud.data(), loud.size()).ok());
}

// One Ogg page (valid checksum) holding `packet`, of stream 1.
std::vector<uint8_t> ogg_page(const std::vector<uint8_t>& packet, bool first, uint32_t sequence) {
  std::vector<uint8_t> p = {'O', 'g', 'g', 'S', 0, static_cast<uint8_t>(first ? 2 : 0)};
  p.insert(p.end(), 8, 0);                      // granule position
  p.insert(p.end(), {1, 0, 0, 0});              // serial number
  for (int i = 0; i < 4; ++i) p.push_back(static_cast<uint8_t>(sequence >> (8 * i)));
  p.insert(p.end(), 4, 0);                      // checksum, below
  std::vector<uint8_t> lacing(packet.size() / 255, 255);
  lacing.push_back(static_cast<uint8_t>(packet.size() % 255));
  p.push_back(static_cast<uint8_t>(lacing.size()));
  p.insert(p.end(), lacing.begin(), lacing.end());
  p.insert(p.end(), packet.begin(), packet.end());
  uint32_t crc = 0;
  for (uint8_t byte : p) {
    crc ^= static_cast<uint32_t>(byte) << 24;
    for (int k = 0; k < 8; ++k) crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
  }
  for (int i = 0; i < 4; ++i) p[22 + i] = static_cast<uint8_t>(crc >> (8 * i));
  return p;
}

std::vector<uint8_t> vorbis_id_header(uint32_t version) {
  std::vector<uint8_t> h = {1, 'v', 'o', 'r', 'b', 'i', 's'};
  for (int i = 0; i < 4; ++i) h.push_back(static_cast<uint8_t>(version >> (8 * i)));
  h.push_back(1);                                          // channels
  h.insert(h.end(), {0x44, 0xAC, 0, 0});                   // 44100 Hz
  h.insert(h.end(), 12, 0);                                // bitrates
  h.push_back(0xB8);                                       // block sizes 256, 2048
  h.push_back(1);                                          // framing
  return h;
}

TEST(AudioDecode, VorbisHeadersThatFailToOpenAreRefusedWithoutLeaking) {
  // libsndfile 1.2.0 leaks 5,784 bytes whenever a Vorbis stream fails to open; checksums do not
  // stop it. The leak checker of the ASan run of this test is the proof.
  const std::vector<std::vector<uint8_t>> streams = {
      ogg_page(vorbis_id_header(1), true, 0),  // a bad version
      ogg_page(vorbis_id_header(0), true, 0),  // a good identification header, then nothing
      [] {
        auto s = ogg_page(vorbis_id_header(0), true, 0);
        const std::vector<uint8_t> comment = {3, 'v', 'o', 'r', 'b', 'i', 's', 0, 0, 0, 0, 0, 0, 0, 0, 1};
        auto p = ogg_page(comment, false, 1);
        s.insert(s.end(), p.begin(), p.end());
        return s;
      }(),  // and a comment header, without the setup header
  };
  for (size_t i = 0; i < streams.size(); ++i) {
    auto a = decode_audio(streams[i].data(), streams[i].size());
    ASSERT_FALSE(a.ok()) << i;
    EXPECT_NE(a.error().message.find("Ogg Vorbis stream"), std::string::npos) << a.error().message;
  }
}

TEST(AudioDecode, TruncatedAndCorruptedFilesNeverCrash) {
  std::mt19937 rng(7);
  for (const auto& e : test::fixture_json("reference/audio.json")) {
    const std::string f = e["file"];
    auto bytes = read_file(test::fixture("audio/" + f));
    ASSERT_TRUE(bytes.ok());
    const auto& b = bytes.value();
    for (size_t cut : {size_t{1}, size_t{4}, size_t{12}, size_t{44}, b.size() / 2, b.size() - 1}) {
      if (cut >= b.size()) continue;
      auto a = decode_audio(b.data(), cut);
      if (!a.ok()) {

        EXPECT_FALSE(a.error().message.empty());

      }
    }
    for (int trial = 0; trial < 25; ++trial) {
      auto c = b;
      for (int i = 0; i < 1 + trial % 6; ++i) c[rng() % std::min<size_t>(c.size(), trial % 2 ? 256 : c.size())] ^= 0xFF;
      auto a = decode_audio(c.data(), c.size());
      if (!a.ok()) {

        EXPECT_FALSE(a.error().message.empty());

      }
    }
  }
}

TEST(ClapModelLoad, BrokenConfigsNameTheirFault) {
  auto fused = read_htsat_config({{"audio_config", {{"enable_fusion", true}, {"fusion_type", "channel_map"}}}});
  ASSERT_FALSE(fused.ok());
  EXPECT_NE(fused.error().message.find("fusion_type"), std::string::npos);
  EXPECT_FALSE(read_htsat_config({{"audio_config", {{"depths", {2, 2}}, {"num_attention_heads", {4}}}}}).ok());
  EXPECT_FALSE(read_htsat_config({{"audio_config", {{"hidden_size", 100}}}}).ok());
  EXPECT_FALSE(read_htsat_config({{"audio_config", {{"mlp_ratio", 1e300}}}}).ok());  // cast to int at load
  EXPECT_FALSE(read_clap_feature_config({{"fft_window_size", 1000}}).ok());
  EXPECT_FALSE(read_clap_feature_config({{"padding", "mirror"}}).ok());
  // Found by fuzz_config: 48000 s at 48 kHz overflowed the window's sample count (an int).
  EXPECT_FALSE(read_clap_feature_config({{"max_length_s", 48000}}).ok());
  EXPECT_FALSE(read_clap_feature_config({{"max_length_s", 1e300}}).ok());
  EXPECT_FALSE(read_clap_feature_config({{"sampling_rate", 2000000000}, {"frequency_max", 14000}}).ok());
  EXPECT_FALSE(read_clap_feature_config({{"hop_length", 2000000000}}).ok());
  EXPECT_FALSE(read_clap_feature_config({{"feature_size", 1 << 20}}).ok());
  EXPECT_TRUE(read_clap_feature_config({{"max_length_s", 60}}).ok());
  EXPECT_TRUE(parse_long_audio("fusion").ok());
  EXPECT_FALSE(parse_long_audio("random").ok());
  auto unfused = ClapModel::load(test::fixture("models/clap-tiny-a"));
  ASSERT_TRUE(unfused.ok());
  auto a = decode_audio_file(test::fixture("audio/long_23s_8k.flac"));
  ASSERT_TRUE(a.ok());
  auto refused = unfused.value()->embed_audio({a.value()}, {LongAudio::kFusion, 10});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("fused checkpoint"), std::string::npos);
  auto not_dir = ClapModel::load("/nonexistent/clap");
  ASSERT_FALSE(not_dir.ok());
}

}  // namespace
}  // namespace cc
