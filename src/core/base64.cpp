#include "core/base64.h"

#include <array>
#include <cstdint>

namespace cc {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Each byte's 6-bit value, or -1 for anything that is not in the alphabet.
constexpr std::array<int8_t, 256> kSextet = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}();
}  // namespace

std::string base64_encode(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (size - i == 1) {
    const uint32_t v = p[i] << 16;
    out += kAlphabet[(v >> 18) & 63], out += kAlphabet[(v >> 12) & 63], out += "==";
  } else if (size - i == 2) {
    const uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63], out += kAlphabet[(v >> 12) & 63], out += kAlphabet[(v >> 6) & 63], out += '=';
  }
  return out;
}

Result<std::vector<uint8_t>> base64_decode(std::string_view text) {
  const auto* in = reinterpret_cast<const uint8_t*>(text.data());
  std::vector<uint8_t> out(text.size() / 4 * 3 + 3);
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0, pad = 0;
  size_t symbols = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    // Four plain symbols on a group boundary, the usual case, in one step; whitespace, padding
    // and errors go one symbol at a time below.
    if (bits == 0 && pad == 0 && i + 4 <= text.size()) {
      const int a = kSextet[in[i]], b = kSextet[in[i + 1]], c = kSextet[in[i + 2]], d = kSextet[in[i + 3]];
      if ((a | b | c | d) >= 0) {
        const uint32_t v = static_cast<uint32_t>(a) << 18 | static_cast<uint32_t>(b) << 12 | static_cast<uint32_t>(c) << 6 | static_cast<uint32_t>(d);
        out[n++] = static_cast<uint8_t>(v >> 16);
        out[n++] = static_cast<uint8_t>(v >> 8);
        out[n++] = static_cast<uint8_t>(v);
        symbols += 4;
        i += 3;
        continue;
      }
    }
    const uint8_t ch = in[i];
    if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') continue;
    ++symbols;
    if (ch == '=') {
      ++pad;
      continue;
    }
    const int v = kSextet[ch];
    if (v < 0) return error("base64: invalid character at offset " + std::to_string(i));
    if (pad) return error("base64: data after padding");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<uint8_t>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (symbols % 4 != 0 || pad > 2) return error("base64: length is not a multiple of 4");
  if (acc != 0) return error("base64: non-zero trailing bits");
  out.resize(n);
  return out;
}

}  // namespace cc
