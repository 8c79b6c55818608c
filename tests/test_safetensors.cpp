#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/safetensors.h"
#include "test_util.h"

namespace cc {
namespace {

std::string write_temp(const std::string& bytes) {
  char path[] = "/tmp/clipclap_st_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  close(fd);
  return path;
}

std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

Result<SafeTensors> open_bytes(const std::string& bytes) {
  std::string p = write_temp(bytes);
  auto st = SafeTensors::open(p);
  std::remove(p.c_str());  // the mapping stays valid after unlink
  return st;
}

TEST(SafeTensors, ReadsF32InPlaceAndConvertsHalfTypes) {
  float f[2] = {1.5f, -2.25f};
  std::string data(reinterpret_cast<char*>(f), 8);
  data += std::string("\x00\x3c\x00\xc0", 4);  // f16: 1.0, -2.0
  data += std::string("\xc0\x3f\x80\x40", 4);  // bf16: 1.5, 4.0
  std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("h":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},)"
      R"("b":{"dtype":"BF16","shape":[1,2],"data_offsets":[12,16]},"__metadata__":{"format":"pt"}})";
  header.resize((header.size() + 7) / 8 * 8, ' ');
  auto st = open_bytes(safetensors_bytes(header, data));
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto a = st->get("a", {2});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->data[0], 1.5f);
  EXPECT_EQ(a->data[1], -2.25f);
  EXPECT_EQ(st->copied_bytes(), 0u);
  auto h = st->get("h");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->data[0], 1.0f);
  EXPECT_EQ(h->data[1], -2.0f);
  auto b = st->get("b", {1, 2});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->data[0], 1.5f);
  EXPECT_EQ(b->data[1], 4.0f);
  EXPECT_EQ(st->copied_bytes(), 16u);
}

TEST(SafeTensors, HalfConversionCoversSubnormalsAndSpecials) {
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_EQ(half_to_float(0x8000), -0.0f);
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
}

TEST(SafeTensors, ErrorsNameTheTensorAndTheShape) {
  std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  auto st = open_bytes(safetensors_bytes(header, std::string(8, '\0')));
  ASSERT_TRUE(st.ok());
  auto missing = st->get("text_model.x.weight");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("missing tensor 'text_model.x.weight'"), std::string::npos);
  auto wrong = st->get("w", {3});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("has shape [2], expected [3]"), std::string::npos) << wrong.error().message;
}

TEST(SafeTensors, RejectsCorruptTruncatedEmptyAndHostileFiles) {
  const std::string good_header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty file", ""},
      {"short", "abc"},
      {"header longer than file", std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8) + "{}"},
      {"header length 2^63", std::string("\x00\x00\x00\x00\x00\x00\x00\x80", 8)},
      {"not json", safetensors_bytes("not json!", "")},
      {"json array", safetensors_bytes("[1,2]", "")},
      {"truncated data", safetensors_bytes(good_header, std::string(4, '\0'))},
      {"size mismatch", safetensors_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'))},
      {"reversed offsets", safetensors_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", std::string(8, '\0'))},
      {"unknown dtype", safetensors_bytes(R"({"w":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'))},
      {"negative dim", safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, '\0'))},
      {"overflowing shape", safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", std::string(8, '\0'))},
      {"string offsets", safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":["0","8"]}})", std::string(8, '\0'))},
      {"missing fields", safetensors_bytes(R"({"w":{"dtype":"F32"}})", "")},
  };
  for (const auto& [what, bytes] : cases) {
    auto st = open_bytes(bytes);
    EXPECT_FALSE(st.ok()) << what;
    if (!st.ok()) {

      EXPECT_FALSE(st.error().message.empty()) << what;

    }
  }
  auto st = SafeTensors::open("/nonexistent/model.safetensors");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("/nonexistent/model.safetensors"), std::string::npos);
}

TEST(SafeTensors, RefusesIntegerTensorsAsFloats) {
  auto st = open_bytes(safetensors_bytes(R"({"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0')));
  ASSERT_TRUE(st.ok());
  auto t = st->get("i");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("I64"), std::string::npos);
}

}  // namespace
}  // namespace cc
