// RoBERTa's fast tokenizer (CLAP's text side), loaded from tokenizer.json: added tokens split
// from the raw text (no normaliser), GPT-2's pre-tokenizer regex, byte-level BPE without an
// end-of-word suffix, then <s> ... </s>, truncated so that </s> stays last.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "text/added_tokens.h"
#include "text/bpe.h"

namespace cc {

class RobertaTokenizer {
 public:
  static Result<RobertaTokenizer> load(const std::string& tokenizer_json_path);

  // <s> content </s>, cut to max_length. Only as much of the text is tokenized as that needs
  // (text/pieces.h); all of it is checked to be UTF-8.
  Result<std::vector<int32_t>> encode(std::string_view text, int max_length) const;

  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }

 private:
  void pre_tokenize_and_encode(std::u32string_view segment, size_t word_cap, std::vector<int32_t>& ids) const;

  BytePairEncoder bpe_;
  AddedTokens added_tokens_;
  int32_t cls_id_ = -1, sep_id_ = -1;
};

// The length of the match of GPT-2's regex at `at`:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t match_gpt2_pretokenizer(std::u32string_view s, size_t at);

}  // namespace cc
