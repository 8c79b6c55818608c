// Shared by the tests: fixture paths and vector comparisons.
#pragma once

#include <sys/wait.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/gemm.h"
#include "core/packed_weights.h"

namespace cc::test {

inline std::string fixture(const std::string& rel) { return (std::filesystem::path(CLIPCLAP_FIXTURES) / rel).string(); }

// While alive, the binaries a test starts use packed weights even where oneDNN prefers another
// layout (where they are ~10x slower: for tests of the packed path's logic, on small inputs).
struct PackedEverywhere {
  PackedEverywhere() { setenv("CLIPCLAP_PACKED", "always", 1); }
  ~PackedEverywhere() { unsetenv("CLIPCLAP_PACKED"); }
};

// Removes `dir` (a test's scratch directory) when the test process ends.
inline void remove_at_exit(const std::filesystem::path& dir) {
  static struct Dirs {
    std::vector<std::filesystem::path> list;
    ~Dirs() { for (const auto& d : list) std::filesystem::remove_all(d); }
  } dirs;
  dirs.list.push_back(dir);
}

// A scratch copy of a fixture model whose model.safetensors is a real file (its time can be
// changed, pack files written beside it), the other files linked; removed at exit.
inline std::string scratch_model_copy(const std::string& model, const std::string& tag) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("clipclap_" + tag + "_" + std::to_string(::getpid()));
  remove_at_exit(dir);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(fixture("models/" + model))) {
    if (e.path().filename() == "model.safetensors") fs::copy_file(e.path(), dir / "model.safetensors");
    else fs::create_symlink(fs::canonical(e.path()), dir / e.path().filename());
  }
  return dir.string();
}

// How the parity tests load a fixture: a plain name reads its checkpoint in place (not packed at
// load, which a machine preferring the packed layout would otherwise do), "+packed" maps its file.
inline WeightOptions fixture_weight_options(const std::string& name) {
  WeightOptions o;
  o.pack_at_load = name.find('+') != std::string::npos;
  return o;
}

// "clip-tiny-a+packed" -> "clip-tiny-a": the reference vectors are the same.
inline std::string base_model(const std::string& name) { return name.substr(0, name.find('+')); }

// Whether a model loaded as fixture_model(name) should have packed weights attached.
inline bool expects_packed(const std::string& name) { return name != base_model(name) && gemm_prefers_packed_layout(); }

// Fixture model "name", or with "name+packed" a directory whose files link to its files and
// which holds packed weights (what `clipclap pack` writes), so a test runs on both.
inline std::string fixture_model(const std::string& name) {
  const std::string base = base_model(name);
  if (base == name) return fixture("models/" + name);
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("clipclap_packed_" + std::to_string(::getpid()) + "_" + base);
  if (!fs::exists(dir / "model.packed.safetensors")) {
    remove_at_exit(dir);
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(fixture("models/" + base))) fs::create_symlink(fs::canonical(e.path()), dir / e.path().filename());
    auto packed = write_packed_weights((dir / "model.safetensors").string());
    EXPECT_TRUE(packed.ok()) << (packed.ok() ? "" : packed.error().message);
  }
  return dir.string();
}

inline nlohmann::json fixture_json(const std::string& rel) {
  auto j = read_json(fixture(rel));
  EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().message);
  return j.ok() ? j.value() : nlohmann::json();
}

inline double cosine(const float* a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

inline double max_abs_diff(const float* a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

// An IEEE-float WAV (32- or 64-bit samples, interleaved) with the given header fields.
template <class Sample>
std::vector<uint8_t> ieee_wav(const std::vector<Sample>& samples, uint32_t rate, uint16_t channels = 1) {
  static_assert(sizeof(Sample) == 4 || sizeof(Sample) == 8);
  auto put32 = [](std::vector<uint8_t>& b, uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i))); };
  auto put16 = [](std::vector<uint8_t>& b, uint16_t v) { b.push_back(v & 0xFF), b.push_back(v >> 8); };
  constexpr uint16_t bytes = sizeof(Sample);
  std::vector<uint8_t> b = {'R', 'I', 'F', 'F'};
  const uint32_t data_bytes = static_cast<uint32_t>(samples.size() * bytes);
  put32(b, 36 + data_bytes);
  for (char c : std::string("WAVEfmt ")) b.push_back(static_cast<uint8_t>(c));
  put32(b, 16);
  put16(b, 3);  // IEEE float
  put16(b, channels);
  put32(b, rate);
  put32(b, rate * bytes * channels);
  put16(b, static_cast<uint16_t>(bytes * channels));
  put16(b, 8 * bytes);
  for (char c : std::string("data")) b.push_back(static_cast<uint8_t>(c));
  put32(b, data_bytes);
  const auto* p = reinterpret_cast<const uint8_t*>(samples.data());
  b.insert(b.end(), p, p + data_bytes);
  return b;
}

inline std::vector<uint8_t> float_wav(const std::vector<float>& samples, uint32_t rate, uint16_t channels = 1) {
  return ieee_wav(samples, rate, channels);
}

// Runs the clipclap binary with `args` (stderr merged into the output when asked).
struct Run {
  int code;
  std::string out;
};

inline Run run_command(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline Run run_clipclap(const std::string& args, bool merge_stderr) {
  return run_command(std::string(CLIPCLAP_BINARY) + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null"));
}

// With environment assignments ("A=1 B=2") in front; stderr merged.
inline Run run_clipclap_env(const std::string& env, const std::string& args) {
  return run_command("env " + env + " " + std::string(CLIPCLAP_BINARY) + " " + args + " 2>&1");
}

// reference/long_texts.json: texts made of repeated parts, with HF's ids for them.
inline std::string long_text(const nlohmann::json& c) {
  std::string t;
  for (const auto& p : c["parts"])
    for (int i = 0; i < p[1].get<int>(); ++i) t += p[0].get<std::string>();
  return t;
}

// How much slower the sanitizer builds run: time limits in tests are the optimised build's times this.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kSlowdown = 10;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr double kSlowdown = 10;
#else
constexpr double kSlowdown = 1;
#endif
#else
constexpr double kSlowdown = 1;
#endif

// Texts up to 288 KB (reference/long_texts.json): white space of every kind, words far longer
// than any token, runs without white space longer than a piece, combining marks after spaces,
// added tokens beside white space. `tok.encode(text, limit)` must equal HF's cut ids (the
// fixture's `key`), tokenizing only the start fast, and, where the fixture has them, the whole
// ids when tokenized a piece at a time all the way. Then a 10 MB text, and invalid UTF-8 at its end.
template <class Tokenizer>
void expect_long_texts_equal_hugging_face(const Tokenizer& tok, int limit, const std::string& key) {
  const auto cases = fixture_json("reference/long_texts.json");
  ASSERT_GE(cases.size(), 15u);
  auto elapsed_ms = [](std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
  };
  for (const auto& c : cases) {
    const std::string text = long_text(c), what = c["parts"].dump().substr(0, 80);
    const auto start = std::chrono::steady_clock::now();
    auto cut = tok.encode(text, limit);
    const double ms = elapsed_ms(start);
    ASSERT_TRUE(cut.ok()) << what;
    EXPECT_EQ(cut.value(), c[key].template get<std::vector<int32_t>>()) << what;
    EXPECT_LT(ms, 500 * kSlowdown) << what;
    if (c.contains(key + "_full")) {
      auto full = tok.encode(text, 1 << 30);
      ASSERT_TRUE(full.ok());
      EXPECT_EQ(full.value(), c[key + "_full"].template get<std::vector<int32_t>>()) << what;
    }
  }
  std::string huge;
  while (huge.size() < (10u << 20)) huge += "the sound of rain on a tin roof ";
  const auto start = std::chrono::steady_clock::now();
  auto ids = tok.encode(huge, limit);
  const double ms = elapsed_ms(start);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->size(), static_cast<size_t>(limit));
  std::printf("10 MB text: %zu ids in %.1f ms\n", ids->size(), ms);
  EXPECT_LT(ms, 1000 * kSlowdown);  // only the start is tokenized; the rest is checked to be UTF-8
  huge += "\xff";
  EXPECT_FALSE(tok.encode(huge, limit).ok());
}

// The parity bar for every embedding we produce against transformers.
constexpr double kMinCosine = 0.99999;
constexpr double kMaxAbsDiff = 1e-4;

}  // namespace cc::test
