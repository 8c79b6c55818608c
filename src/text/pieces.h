// Tokenizing only as much of a text as the tokens kept need. A text is cut into pieces at
// places where a tokenizer's steps cannot see across (each tokenizer says where: between
// white space and a word, in general), each piece is tokenized on its own, and the loop stops
// once enough tokens are in: a 10 MB text costs what its first 78 tokens cost.
//
// A run of 4 word caps without any such place (no white space) is cut anyway: it holds more
// tokens than wanted, since no token is longer than the vocabulary's longest. Likewise a single
// pre-token (word) longer than the word cap is encoded from its first word-cap bytes: BPE
// merges reach only a few tokens across, and the cap is twice the bytes the tokens wanted can
// span (tested against whole words).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace cc {

struct PieceLimits {
  size_t word_cap = SIZE_MAX;    // bytes of one pre-token that are encoded
  size_t piece_bytes = SIZE_MAX;  // a piece ends at the first cut after this many bytes...
  size_t piece_max = SIZE_MAX;    // ...or here, cut or not
};

// For `tokens` tokens from a vocabulary whose longest token has `max_token_bytes` bytes
// (SIZE_MAX tokens: no limits, the whole text).
PieceLimits piece_limits(size_t tokens, size_t max_token_bytes);

// Calls `piece(begin, end)` for consecutive pieces of `text` (UTF-8, already validated) until
// it returns false or the text ends. `cut_here(text, at)` says whether a piece may end at byte
// `at`, a code-point boundary. A piece cut at piece_max without such a place is the last.
void for_each_piece(std::string_view text, const PieceLimits& limits, const std::function<bool(std::string_view, size_t)>& cut_here,
                    const std::function<bool(size_t, size_t)>& piece);

// The code point starting at byte `at` of valid UTF-8, and its length.
char32_t code_point_at(std::string_view text, size_t at, size_t* length);
// The code point ending at byte `at` (at > 0), and where it starts.
char32_t code_point_before(std::string_view text, size_t at, size_t* start);

}  // namespace cc
