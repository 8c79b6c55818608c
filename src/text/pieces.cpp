#include "text/pieces.h"

#include <algorithm>

namespace cc {

PieceLimits piece_limits(size_t tokens, size_t max_token_bytes) {
  PieceLimits l;
  if (tokens == SIZE_MAX || max_token_bytes == 0 || tokens > (SIZE_MAX / 64) / max_token_bytes) return l;
  l.word_cap = std::max<size_t>(1024, 2 * tokens * max_token_bytes);
  l.piece_bytes = 1024;
  // Cut there, the pre-tokens wholly inside hold at least 3 word caps: more tokens than wanted
  // (each is at most max_token_bytes), whatever the cut does to the last one.
  l.piece_max = 4 * l.word_cap;
  return l;
}

char32_t code_point_at(std::string_view text, size_t at, size_t* length) {
  const auto b = static_cast<unsigned char>(text[at]);
  const size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  char32_t c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t i = 1; i < n && at + i < text.size(); ++i) c = (c << 6) | (static_cast<unsigned char>(text[at + i]) & 0x3F);
  *length = n;
  return c;
}

char32_t code_point_before(std::string_view text, size_t at, size_t* start) {
  size_t s = at - 1;
  while (s > 0 && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80) --s;
  *start = s;
  size_t n;
  return code_point_at(text, s, &n);
}

void for_each_piece(std::string_view text, const PieceLimits& limits, const std::function<bool(std::string_view, size_t)>& cut_here,
                    const std::function<bool(size_t, size_t)>& piece) {
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.size();
    bool forced = false;
    if (text.size() - begin > limits.piece_bytes) {
      const size_t stop = text.size() - begin > limits.piece_max ? begin + limits.piece_max : text.size();
      size_t at = begin + limits.piece_bytes;
      while (at < stop && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;  // a code-point boundary
      while (at < stop && !cut_here(text, at)) {
        size_t n;
        code_point_at(text, at, &n);
        at += n;
      }
      end = std::min(at, stop);
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
      forced = end < text.size() && !cut_here(text, end);
    }
    if (!piece(begin, end) || forced) return;
    begin = end;
  }
}

}  // namespace cc
