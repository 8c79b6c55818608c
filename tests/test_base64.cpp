// Base64 (request bodies' media, OpenAI's base64 vectors): round trips, the fast four-symbol
// path against a symbol-at-a-time reference on random and hostile text, and every error.
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base64.h"

namespace cc {
namespace {

// RFC 4648 decoding one symbol at a time, skipping ASCII whitespace as base64_decode does;
// nullopt for anything it refuses.
std::optional<std::vector<uint8_t>> reference_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0, pad = 0;
  size_t symbols = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    ++symbols;
    if (c == '=') {
      ++pad;
      continue;
    }
    const size_t v = alphabet.find(c);
    if (v == std::string::npos || pad) return std::nullopt;
    acc = acc << 6 | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (symbols % 4 != 0 || pad > 2 || acc != 0) return std::nullopt;
  return out;
}

TEST(Base64, RoundTripsEveryLength) {
  std::mt19937 rng(7);
  for (size_t n = 0; n <= 200; ++n) {
    std::vector<uint8_t> bytes(n);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    const std::string text = base64_encode(bytes.data(), bytes.size());
    EXPECT_EQ(text.size(), (n + 2) / 3 * 4);
    auto back = base64_decode(text);
    ASSERT_TRUE(back.ok()) << n << ": " << back.error().message;
    EXPECT_EQ(*back, bytes) << n;
  }
}

TEST(Base64, MatchesTheReferenceOnMangledText) {
  std::mt19937 rng(11);
  const std::string noise = "=== \n\r\t-_.@AQw09+/\x80\xff";
  for (int trial = 0; trial < 20000; ++trial) {
    std::vector<uint8_t> bytes(rng() % 40);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    std::string text = base64_encode(bytes.data(), bytes.size());
    // Insert, replace or delete a few characters (or none), as a broken client might.
    for (int edits = static_cast<int>(rng() % 4); edits > 0; --edits) {
      const size_t at = text.empty() ? 0 : rng() % (text.size() + 1);
      const char c = noise[rng() % noise.size()];
      switch (rng() % 3) {
        case 0: text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        case 1: if (at < text.size()) text[at] = c; break;
        default: if (at < text.size()) text.erase(at, 1);
      }
    }
    auto got = base64_decode(text);
    auto want = reference_decode(text);
    ASSERT_EQ(got.ok(), want.has_value()) << "'" << text << "'";
    if (want) {
      EXPECT_EQ(*got, *want) << "'" << text << "'";
    }
  }
}

TEST(Base64, WhitespaceIsSkipped) {
  auto r = base64_decode(" aGVs\nbG8g\r\nd29y bGQ=\t");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::string(r->begin(), r->end()), "hello world");
  EXPECT_TRUE(base64_decode("").ok());
  EXPECT_TRUE(base64_decode("").value().empty());
}

TEST(Base64, ErrorsSayWhatIsWrong) {
  auto message = [](const std::string& text) {
    auto r = base64_decode(text);
    return r.ok() ? std::string("(decoded)") : r.error().message;
  };
  EXPECT_EQ(message("aGVsbG8@"), "base64: invalid character at offset 7");
  EXPECT_EQ(message("aGVs\xffG8="), "base64: invalid character at offset 4");
  EXPECT_EQ(message("aG=sbG8="), "base64: data after padding");
  EXPECT_EQ(message("aGVsbG8"), "base64: length is not a multiple of 4");
  EXPECT_EQ(message("aGVsb==="), "base64: length is not a multiple of 4");
  EXPECT_EQ(message("aGVsbG9="), "base64: non-zero trailing bits");
}

}  // namespace
}  // namespace cc
