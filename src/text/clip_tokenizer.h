// CLIP's fast tokenizer, loaded from tokenizer.json and reproduced step by step:
// NFC -> collapse \s+ to " " -> lowercase -> split out added tokens -> CLIP's split regex ->
// byte-level mapping -> BPE with the "</w>" end-of-word suffix -> <|startoftext|> ... <|endoftext|>.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "text/added_tokens.h"
#include "text/bpe.h"

namespace cc {

class ClipTokenizer {
 public:
  // Fails, saying which part, if tokenizer.json is not a CLIP BPE tokenizer.
  static Result<ClipTokenizer> load(const std::string& tokenizer_json_path);

  // bos, content ids, eos. When the result would exceed max_length, the content is cut so
  // that eos stays last (as HF does with truncation=True, max_length=77). Only as much of the
  // text is tokenized as that needs (text/pieces.h); all of it is checked to be UTF-8.
  Result<std::vector<int32_t>> encode(std::string_view text, int max_length) const;

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  size_t vocab_size() const { return bpe_.vocab_size(); }

 private:
  Result<std::u32string> normalize(std::string_view text) const;
  void split_and_encode(std::u32string_view piece, size_t word_cap, std::vector<int32_t>& ids) const;

  BytePairEncoder bpe_;
  AddedTokens added_tokens_;  // matched after normalisation (all CLIP's are "normalized")
  bool split_specials_in_regex_ = false;  // pattern starts with <\|startoftext\|>|<\|endoftext\|>|
  int32_t bos_id_ = -1, eos_id_ = -1;
};

}  // namespace cc
