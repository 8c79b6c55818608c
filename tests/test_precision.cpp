// bf16 and int8 (`--precision`): every fixture model, every modality, within its bar of the
// exact fp32 vectors; the pack file gives the same vectors as the weights made at load; stale
// and broken pack files are clear errors. The full-size accuracy study (bench and stress
// weights, ONNX Runtime's int8 beside it) is scripts/precision_accuracy.py.
#include <fcntl.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "core/activation_samples.h"
#include "core/file.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/packed_weights.h"
#include "model/calibration.h"
#include "model/embedder.h"
#include "model/pack_model.h"
#include "test_util.h"

namespace cc {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kTexts = {"a photo of rain", "dog barking in the distance", "", "x",
                                         "the sound of a violin playing a slow melody in a large hall"};
const std::vector<std::string> kImages = {"photo_420.jpg", "cmyk.jpg", "rgba.png", "gray16.png", "tiny_1x1.png", "anim.gif"};
const std::vector<std::string> kAudio = {"chirp_44k.flac", "tone_48k_pcm16.wav", "noise_16k.ogg", "long_23s_8k.flac",
                                         "silence_48k_float.wav"};

// Vectors per modality, in the order of the inputs above.
struct Vectors {
  std::vector<std::vector<float>> text, image, audio;
  bool operator==(const Vectors&) const = default;
};

Vectors embed_all(const Embedder& m) {
  Vectors out;
  auto take = [&](const Result<Embeddings>& e, std::vector<std::vector<float>>& into) {
    ASSERT_TRUE(e.ok()) << e.error().message;
    for (int i = 0; i < e->count; ++i) into.emplace_back(e->row(i), e->row(i) + e->dim);
  };
  if (m.info().caps.text) take(m.embed_texts(kTexts), out.text);
  if (m.info().caps.image) {
    std::vector<Image> images;
    for (const auto& f : kImages) images.push_back(decode_image_file(test::fixture("images/" + f)).value());
    take(m.embed_images(images), out.image);
  }
  if (m.info().caps.audio) {
    std::vector<Audio> clips;
    for (const auto& f : kAudio) {
      auto bytes = read_file(test::fixture("audio/" + f));
      clips.push_back(decode_audio(bytes->data(), bytes->size()).value());
    }
    take(m.embed_audio(clips, {}), out.audio);
  }
  return out;
}

std::unique_ptr<Embedder> load(const std::string& dir, Precision p) {
  WeightOptions o;
  o.precision = p;
  auto m = Embedder::load(dir, o);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return m.ok() ? std::move(m).value() : nullptr;
}

class PrecisionOnFixtures : public ::testing::TestWithParam<std::string> {};

// The bars are the issue's: bf16 >= 0.9995 and int8 >= 0.995 against fp32, on every tower.
// These narrow random towers reach them through the accuracy guard (model/calibration.h),
// which keeps in fp32 the layers their rounding would push too far; some layers of every
// model still run reduced.
TEST_P(PrecisionOnFixtures, WithinItsBarOfFp32) {
  const std::string dir = test::fixture("models/" + GetParam());
  auto exact = load(dir, Precision::kFp32);
  ASSERT_TRUE(exact);
  const Vectors reference = embed_all(*exact);
  for (auto [p, bar] : {std::pair{Precision::kBf16, 0.9995}, std::pair{Precision::kInt8, 0.995}}) {
    auto m = load(dir, p);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->precision(), p);
    const Vectors got = embed_all(*m);
    EXPECT_NE(got, reference) << precision_name(p) << " ran at fp32";
    EXPECT_GT(m->reduced_layer_count(), 0) << precision_name(p);
    for (auto [name, g, r] : {std::tuple{"text", &got.text, &reference.text}, std::tuple{"image", &got.image, &reference.image},
                              std::tuple{"audio", &got.audio, &reference.audio}}) {
      ASSERT_EQ(g->size(), r->size());
      if (g->empty()) continue;
      double worst = 1;
      for (size_t i = 0; i < g->size(); ++i) worst = std::min(worst, test::cosine((*g)[i].data(), (*r)[i]));
      EXPECT_GE(worst, bar) << precision_name(p) << " " << name << " on " << GetParam();
      std::printf("%s %s %s: min cosine to fp32 %.6f over %zu vectors (%zu of %zu layers kept fp32)\n", GetParam().c_str(), name,
                  precision_name(p), worst, g->size(), m->fp32_layers().size(), m->fp32_layers().size() + m->reduced_layer_count());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PrecisionOnFixtures,
                         ::testing::Values("clip-tiny-a", "clip-tiny-b", "clip-tiny-c", "clap-tiny-a", "clap-tiny-b",
                                           "clap-tiny-fused", "clipclap-tiny"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

std::string scratch_bundle(const std::string& tag) { return test::scratch_model_copy("clipclap-tiny", "precision_" + tag); }

TEST(PrecisionPackFile, GivesTheVectorsMadeAtLoadAndIsMapped) {
  const std::string dir = scratch_bundle("same");
  for (Precision p : {Precision::kBf16, Precision::kInt8}) {
    auto made = load(dir, p);
    ASSERT_TRUE(made);
    EXPECT_FALSE(made->gemm_weights_mapped());
    auto packed = pack_model(dir, p);
    ASSERT_TRUE(packed.ok()) << packed.error().message;
    EXPECT_GT(packed->tensors, 0);
    const std::string file = gemm_weights_path(join_path(dir, "model.safetensors"), p);
    ASSERT_TRUE(is_file(file));
    auto mapped = load(dir, p);
    ASSERT_TRUE(mapped);
    EXPECT_TRUE(mapped->gemm_weights_mapped());
    EXPECT_EQ(embed_all(*mapped), embed_all(*made)) << precision_name(p);
    EXPECT_FALSE(made->fp32_layers().empty()) << precision_name(p);  // so that the file's F32 layers are tried
    EXPECT_EQ(mapped->fp32_layers(), made->fp32_layers()) << precision_name(p);
    EXPECT_EQ(mapped->reduced_layer_count(), made->reduced_layer_count()) << precision_name(p);
    EXPECT_GE(fs::file_size(file), packed->bytes);  // the tensors, and a header naming them
  }
  // fp32 is unaffected by either file
  auto exact = load(dir, Precision::kFp32);
  auto plain = load(test::fixture("models/clipclap-tiny"), Precision::kFp32);
  ASSERT_TRUE(exact && plain);
  EXPECT_EQ(embed_all(*exact), embed_all(*plain));
}

TEST(PrecisionPackFile, StaleOrBrokenIsAClearError) {
  const std::string dir = scratch_bundle("stale"), weights = join_path(dir, "model.safetensors");
  ASSERT_TRUE(pack_model(dir, Precision::kInt8).ok());
  const std::string file = gemm_weights_path(weights, Precision::kInt8);
  const timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, weights.c_str(), times, 0), 0);
  WeightOptions o;
  o.precision = Precision::kInt8;
  auto m = Embedder::load(dir, o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("another version"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find("clipclap pack --precision int8"), std::string::npos) << m.error().message;
  // fp32 and bf16 do not read the int8 file
  EXPECT_TRUE(Embedder::load(dir).ok());
  ASSERT_TRUE(pack_model(dir, Precision::kInt8).ok());
  EXPECT_TRUE(Embedder::load(dir, o).ok());
  // a truncated file, and a bf16 file in the int8 file's place
  auto bytes = read_file(file);
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(write_file_atomic(file, bytes->data(), bytes->size() / 2).ok());
  m = Embedder::load(dir, o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find(file), std::string::npos) << m.error().message;
  ASSERT_TRUE(pack_model(dir, Precision::kBf16).ok());
  fs::rename(gemm_weights_path(weights, Precision::kBf16), file);
  m = Embedder::load(dir, o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("not int8 packed weights"), std::string::npos) << m.error().message;
}

// A pack file records its weights' layout (blocked where this machine's GEMM prefers it, else
// [out, in]), an int8 one how its smoothing was chosen, and every one the layers the accuracy
// guard kept in fp32; one written for another layout, as on another machine, or by a clipclap
// that did not calibrate int8 or had no guard, is passed over and the weights are made at
// load, with the same vectors.
TEST(PrecisionPackFile, AnotherLayoutOrMethodIsMadeAgainAtLoad) {
  const std::string dir = scratch_bundle("layout"), weights = join_path(dir, "model.safetensors");
  for (auto [p, keys] : {std::pair{Precision::kBf16, std::vector<std::string>{"layout", kFp32LayersKey}},
                         std::pair{Precision::kInt8, std::vector<std::string>{"layout", "smoothing"}}}) {
    auto made = load(dir, p);
    ASSERT_TRUE(made);
    ASSERT_TRUE(pack_model(dir, p).ok());
    const std::string file = gemm_weights_path(weights, p), orig = file + ".orig";
    fs::rename(file, orig);
    for (const std::string& key : keys) {
      {
        auto packed = SafeTensors::open(orig);
        ASSERT_TRUE(packed.ok()) << packed.error().message;
        std::map<std::string, std::string> meta = packed->metadata();
        EXPECT_EQ(meta["layout"], gemm_weights_layout(p));
        ASSERT_TRUE(meta.contains(key)) << key;
        if (key == "layout")
          meta["layout"] = std::string(gemm_weights_layout(p)) == "out,in" ? reduced_layout(p) : "out,in";
        else
          meta.erase(key);
        std::vector<TensorView> views;
        for (const std::string& name : packed->names()) {
          auto raw = packed->raw(name);
          ASSERT_TRUE(raw.ok());
          views.push_back({name, raw->shape, raw->data, raw->dtype, raw->bytes});
        }
        ASSERT_TRUE(write_safetensors(file, views, meta).ok());
      }
      auto again = load(dir, p);
      ASSERT_TRUE(again);
      EXPECT_FALSE(again->gemm_weights_mapped()) << precision_name(p) << " " << key;
      EXPECT_EQ(embed_all(*again), embed_all(*made)) << precision_name(p) << " " << key;
    }
    fs::remove(orig);
  }
}

// The same checkpoint gives the same int8 weights every time it is made: the calibration
// inputs come from fixed seeds and the smoothing search sums in a fixed order.
TEST(PrecisionPackFile, Int8IsTheSameEveryTimeItIsMade) {
  const std::string dir = test::fixture("models/clipclap-tiny");
  auto first = load(dir, Precision::kInt8), second = load(dir, Precision::kInt8);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(embed_all(*first), embed_all(*second));
}

TEST(Precision, NamesParseAndUnknownOnesAreErrors) {
  for (Precision p : {Precision::kFp32, Precision::kBf16, Precision::kInt8}) EXPECT_EQ(parse_precision(precision_name(p)).value(), p);
  auto bad = parse_precision("fp16");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("fp32, bf16 or int8"), std::string::npos);
}

TEST(Precision, Bfloat16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bfloat16(-2.0f), 0xc000);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1)
  EXPECT_EQ(float_to_bfloat16(1.00390625f), 0x3f80);
  EXPECT_EQ(float_to_bfloat16(1.01171875f), 0x3f82);  // 1 + 3·2^-8: halfway, up to even
  EXPECT_EQ(float_to_bfloat16(1.0f + 1.0f / 256 + 1.0f / 4096), 0x3f81);  // above halfway: up
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(NAN))));
  EXPECT_EQ(float_to_bfloat16(INFINITY), 0x7f80);
}

// |y - exact| / |exact| of a layer's output on x.
double relative_error(const Linear& l, const std::vector<float>& x, int rows, const std::vector<float>& exact) {
  std::vector<float> y(exact.size());
  linear(l, x.data(), rows, y.data());
  double num = 0, den = 0;
  for (size_t i = 0; i < y.size(); ++i) num += (y[i] - exact[i]) * (y[i] - exact[i]), den += exact[i] * exact[i];
  return std::sqrt(num / den);
}

// One layer on activations with planted outlier channels (20-50x, through the layer norm's
// gains, as trained ViTs have them): int8 with smoothing stays close to fp32; without the
// norm to smooth by, the same layer is measurably worse.
TEST(Precision, Int8SmoothingTamesOutlierChannels) {
  const int rows = 50, in = 256, out = 192;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(in) * out), bias(out), gamma(in, 1.0f), beta(in, 0.0f), x(static_cast<size_t>(rows) * in);
  for (float& v : w) v = normal(rng) * 0.05f;
  for (float& v : bias) v = normal(rng) * 0.1f;
  for (int k : {3, 77, 150, 201}) gamma[k] = 20.0f + 10.0f * (k % 4);
  for (int k = 0; k < in; ++k) beta[k] = normal(rng) * 0.1f;
  for (int m = 0; m < rows; ++m)
    for (int k = 0; k < in; ++k) x[static_cast<size_t>(m) * in + k] = normal(rng) * gamma[k] + beta[k];
  const fs::path file = fs::temp_directory_path() / ("clipclap_precision_layer_" + std::to_string(::getpid()) + ".safetensors");
  test::remove_at_exit(file);
  ASSERT_TRUE(write_safetensors(file.string(), std::vector<NamedTensor>{{"l.weight", {out, in}, w}, {"l.bias", {out}, bias}}).ok());
  auto st = SafeTensors::open(file.string());
  ASSERT_TRUE(st.ok());
  std::vector<float> exact(static_cast<size_t>(rows) * out);
  linear(load_linear(*st, "l", in, out, true).value(), x.data(), rows, exact.data());
  const LayerNorm norm{gamma.data(), beta.data(), in, 1e-5f};
  auto error_of = [&](const LayerNorm* input_norm) {
    st->set_gemm_weights(std::make_shared<GemmWeights>(Precision::kInt8));
    auto l = load_linear(*st, "l", in, out, true, input_norm);
    EXPECT_TRUE(l.ok());
    return l.ok() ? relative_error(l.value(), x, rows, exact) : 1.0;
  };
  const double smoothed = error_of(&norm), plain = error_of(nullptr);
  std::printf("int8 relative error with outlier channels: smoothed %.4f, not smoothed %.4f\n", smoothed, plain);
  EXPECT_LT(smoothed, 0.02);
  EXPECT_LT(smoothed, plain * 0.7);
}


// A long pass keeps rows spread evenly over all of it (every stride-th row), at most max_rows,
// and every row's magnitudes count towards the channel maxima.
TEST(Precision, CalibrationSamplesSpreadOverThePass) {
  // the same 2 MB of rows whatever the width, and never fewer than 1,024
  EXPECT_EQ(ActivationSamples::max_rows(768), 1024);
  EXPECT_EQ(ActivationSamples::max_rows(512), 1024);
  EXPECT_EQ(ActivationSamples::max_rows(128), 4096);
  EXPECT_EQ(ActivationSamples::max_rows(16), 32768);
  const int dim = 512;
  std::vector<float> gamma(dim, 1.0f), beta(dim, 0.0f);
  const LayerNorm norm{gamma.data(), beta.data(), dim, 1e-5f};
  ActivationSamples samples;
  const int64_t calls = 7, rows = 1000;  // 7,000 rows of 1,024 at most: the stride ends at 8
  for (int64_t c = 0; c < calls; ++c) {
    std::vector<float> y(static_cast<size_t>(rows) * dim);
    for (int64_t r = 0; r < rows; ++r)
      for (int k = 0; k < dim; ++k) y[r * dim + k] = static_cast<float>(c * rows + r) * (k == 2 ? -1 : 1);
    samples.record(norm, y.data(), rows);
  }
  const ActivationSamples::Norm* n = samples.find(norm);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->stride, 8);
  ASSERT_EQ(n->count(), (calls * rows + 7) / 8);
  EXPECT_LE(n->count(), ActivationSamples::max_rows(dim));
  for (int64_t i = 0; i < n->count(); ++i) ASSERT_EQ(n->rows[i * dim], static_cast<float>(8 * i)) << i;
  EXPECT_EQ(n->channel_max[2], static_cast<float>(calls * rows - 1));
  const LayerNorm other{beta.data(), gamma.data(), dim, 1e-5f};
  EXPECT_EQ(samples.find(other), nullptr);
}

// Real checkpoints carry outlier channels in the residual stream itself, which a layer norm's
// gains do not show (all 1 here): smoothing from |γ| + |β| cannot see them, the calibrated
// search (on rows recorded from the norm, then new rows of the same kind) does.
TEST(Precision, Int8CalibrationFindsOutliersTheGainsDoNotShow) {
  const int in = 256, out = 192;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(in) * out), gamma(in, 1.0f), beta(in, 0.0f), spread(in, 1.0f);
  for (float& v : w) v = normal(rng) * 0.05f;
  for (int k : {5, 60, 130, 222}) spread[k] = 30.0f;
  auto rows_of = [&](int rows) {
    std::vector<float> x(static_cast<size_t>(rows) * in);
    for (int m = 0; m < rows; ++m)
      for (int k = 0; k < in; ++k) x[static_cast<size_t>(m) * in + k] = normal(rng) * spread[k];
    return x;
  };
  const LayerNorm norm{gamma.data(), beta.data(), in, 1e-5f};
  auto samples = std::make_shared<ActivationSamples>();
  {
    std::vector<float> x = rows_of(300), y(x.size());
    RecordActivations recording(*samples);
    layer_norm(norm, x.data(), 300, y.data());
  }
  const fs::path file = fs::temp_directory_path() / ("clipclap_precision_calibrated_" + std::to_string(::getpid()) + ".safetensors");
  test::remove_at_exit(file);
  ASSERT_TRUE(write_safetensors(file.string(), std::vector<NamedTensor>{{"l.weight", {out, in}, w}}).ok());
  auto st = SafeTensors::open(file.string());
  ASSERT_TRUE(st.ok());
  const int rows = 64;
  std::vector<float> raw = rows_of(rows), x(raw.size()), exact(static_cast<size_t>(rows) * out);
  layer_norm(norm, raw.data(), rows, x.data());
  linear(load_linear(*st, "l", in, out, false).value(), x.data(), rows, exact.data());
  auto error_of = [&](std::shared_ptr<const ActivationSamples> calibration) {
    auto g = std::make_shared<GemmWeights>(Precision::kInt8);
    g->set_calibration(std::move(calibration));
    st->set_gemm_weights(g);
    auto l = load_linear(*st, "l", in, out, false, &norm);
    EXPECT_TRUE(l.ok());
    return l.ok() ? relative_error(l.value(), x, rows, exact) : 1.0;
  };
  const double calibrated = error_of(samples), from_gains = error_of(nullptr);
  std::printf("int8 relative error, outliers in the input: calibrated %.4f, from the gains %.4f\n", calibrated, from_gains);
  EXPECT_LT(calibrated, 0.02);
  EXPECT_LT(calibrated, from_gains * 0.7);
}

// The calibration texts fit the tower whatever its vocabulary and positions: framed as the
// empty text is, never a special id, never longer than max_tokens, one length per batch.
TEST(Precision, CalibrationTokensFitTheTower) {
  for (auto [vocab, ends, specials, max_tokens] :
       {std::tuple{49408, std::vector<int32_t>{49406, 49407}, std::vector<int32_t>{}, 77},
        std::tuple{1000, std::vector<int32_t>{0, 2}, std::vector<int32_t>{1}, 7},
        std::tuple{3, std::vector<int32_t>{0, 2}, std::vector<int32_t>{1}, 77},  // no ordinary id left
        std::tuple{50, std::vector<int32_t>{}, std::vector<int32_t>{}, 4}}) {
    const auto batches = calibration_token_ids(vocab, ends, specials, max_tokens);
    size_t sequences = 0;
    for (const auto& batch : batches) {
      ASSERT_FALSE(batch.empty());
      for (const auto& ids : batch) {
        ++sequences;
        EXPECT_EQ(ids.size(), batch[0].size());
        EXPECT_LE(static_cast<int>(ids.size()), max_tokens);
        ASSERT_FALSE(ids.empty());
        if (!ends.empty()) {
          EXPECT_EQ(ids.front(), ends.front());
          EXPECT_EQ(ids.back(), ends.back());
        }
        for (size_t t = ends.empty() ? 0 : 1; t + (ends.empty() ? 0 : 1) < ids.size(); ++t) {
          EXPECT_GE(ids[t], 0);
          EXPECT_LT(ids[t], vocab);
          EXPECT_EQ(std::count(ends.begin(), ends.end(), ids[t]) + std::count(specials.begin(), specials.end(), ids[t]), 0);
        }
      }
    }
    EXPECT_EQ(sequences, static_cast<size_t>(kCalibrationSequences)) << vocab;
  }
}

// The accuracy guard on two layers, 48 -> 48 -> 16, and 64 random inputs, at bf16 and int8:
// well conditioned, every layer stays reduced and the vectors are those made without a guard;
// with one input whose fp32 vector nearly cancels (a tiny vector left after subtracting most of
// it, as a narrow projection can leave), the guard keeps layers in fp32 until that input too is
// within kGuardAim times less than half its bar, and the choice reaches the layers it loads.
TEST(Precision, AccuracyGuardKeepsLayersOnlyWhereRoundingCostsTooMuch) {
  const int dim = 48, out = 16, items = 64;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> a(dim * dim), b(out * dim), x(static_cast<size_t>(items) * dim);
  for (float& v : a) v = normal(rng) / std::sqrt(float(dim));
  for (float& v : b) v = normal(rng) / std::sqrt(float(dim));
  for (float& v : x) v = normal(rng);
  const fs::path file = fs::temp_directory_path() / ("clipclap_precision_guard_" + std::to_string(::getpid()) + ".safetensors");
  test::remove_at_exit(file);
  ASSERT_TRUE(write_safetensors(file.string(), std::vector<NamedTensor>{{"a.weight", {dim, dim}, a}, {"b.weight", {out, dim}, b}}).ok());
  for (Precision p : {Precision::kBf16, Precision::kInt8}) {
    for (bool cancelling : {false, true}) {
      auto st = SafeTensors::open(file.string());
      ASSERT_TRUE(st.ok());
      std::vector<float> offset(out, 0.0f);  // subtracted from item 0's vector
      CalibrationInputs inputs;
      inputs.count = items;
      inputs.embed = [&](const std::vector<int64_t>& list) -> Result<Embeddings> {
        CC_TRY(Linear la, load_linear(*st, "a", dim, dim, false));
        CC_TRY(Linear lb, load_linear(*st, "b", dim, out, false));
        Embeddings e{static_cast<int64_t>(list.size()), out, std::vector<float>(list.size() * out)};
        std::vector<float> h(dim);
        for (size_t i = 0; i < list.size(); ++i) {
          linear(la, x.data() + list[i] * dim, 1, h.data());
          linear(lb, h.data(), 1, e.values.data() + i * out);
          if (list[i] == 0)
            for (int k = 0; k < out; ++k) e.values[i * out + k] -= offset[k];
        }
        return e;
      };
      if (cancelling) {  // item 0 at fp32 is 1e-3 of what it was
        auto exact = inputs.embed({0});
        ASSERT_TRUE(exact.ok());
        for (int k = 0; k < out; ++k) offset[k] = exact->values[k] * (1 - 1e-3f);
      }
      st->set_gemm_weights(std::make_shared<GemmWeights>(p));
      auto exact = [&] {
        auto g = st->take_gemm_weights();
        auto e = inputs.embed({0, 1, 2});
        st->set_gemm_weights(g);
        return e;
      }();
      ASSERT_TRUE(exact.ok());
      ASSERT_TRUE(calibrate(*st, inputs).ok());
      const GemmWeights& chosen = *st->gemm_weights();
      std::vector<int64_t> all(items);
      std::iota(all.begin(), all.end(), 0);
      auto want = [&] {
        auto g = st->take_gemm_weights();
        auto e = inputs.embed(all);
        st->set_gemm_weights(g);
        return e;
      }();
      auto got = inputs.embed(all);
      ASSERT_TRUE(want.ok() && got.ok());
      double worst = 1;
      for (int64_t i = 0; i < items; ++i) worst = std::min(worst, test::cosine(got->row(i), std::vector<float>(want->row(i), want->row(i) + out)));
      const double bar = p == Precision::kBf16 ? kBf16Guard : kInt8Guard;
      std::printf("%s, %s: %zu of 2 layers kept fp32, worst cosine %.7f\n", precision_name(p), cancelling ? "one input cancelling" : "well conditioned",
                  chosen.kept_fp32().size(), worst);
      if (!cancelling) {
        EXPECT_TRUE(chosen.kept_fp32().empty()) << precision_name(p);
        EXPECT_GE(worst, bar) << precision_name(p);
      } else {
        EXPECT_FALSE(chosen.kept_fp32().empty()) << precision_name(p);
        EXPECT_GE(worst, 1 - (1 - bar) / kGuardAim) << precision_name(p);
      }
    }
  }
}

// Narrow text towers get more calibration texts, and the first 256 are those a full-size one gets.
TEST(Precision, CalibrationMultipleAddsTextsAfterTheBaseSet) {
  const std::vector<int32_t> ends = {49406, 49407};
  const auto base = calibration_token_ids(49408, ends, {}, 77), more = calibration_token_ids(49408, ends, {}, 77, 8);
  ASSERT_EQ(base.size(), more.size());
  size_t n = 0;
  for (size_t b = 0; b < base.size(); ++b) {
    ASSERT_GE(more[b].size(), base[b].size());
    for (size_t i = 0; i < base[b].size(); ++i) EXPECT_EQ(more[b][i], base[b][i]);
    n += more[b].size();
  }
  EXPECT_EQ(n, static_cast<size_t>(8 * kCalibrationSequences));
}

}  // namespace
}  // namespace cc
