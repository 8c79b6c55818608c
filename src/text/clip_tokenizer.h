// CLIP's fast tokenizer, loaded from tokenizer.json and reproduced step by step:
// NFC -> collapse \s+ to " " -> lowercase -> split out added tokens -> CLIP's split regex ->
// byte-level mapping -> BPE with the "</w>" end-of-word suffix -> <|startoftext|> ... <|endoftext|>.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"

namespace cc {

class ClipTokenizer {
 public:
  // Fails, saying which part, if tokenizer.json is not a CLIP BPE tokenizer.
  static Result<ClipTokenizer> load(const std::string& tokenizer_json_path);

  // bos, content ids, eos. When the result would exceed max_length, the content is cut so
  // that eos stays last (as HF does with truncation=True, max_length=77).
  Result<std::vector<int32_t>> encode(std::string_view text, int max_length) const;

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  size_t vocab_size() const { return vocab_.size(); }

 private:
  struct AddedToken {
    std::u32string content;
    int32_t id;
  };

  Result<std::u32string> normalize(std::string_view text) const;
  void split_and_encode(std::u32string_view piece, std::vector<int32_t>& ids) const;
  void bpe(const std::string& mapped_word, std::vector<int32_t>& ids) const;
  int32_t token_id(const std::string& token) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int32_t> merge_ranks_;  // key: left + ' ' + right
  std::array<std::string, 256> byte_symbol_;              // GPT-2's bytes_to_unicode, as UTF-8
  std::vector<AddedToken> added_tokens_;
  bool split_specials_in_regex_ = false;  // pattern starts with <\|startoftext\|>|<\|endoftext\|>|
  std::string end_of_word_suffix_;
  int32_t unk_id_ = -1, bos_id_ = -1, eos_id_ = -1;
};

}  // namespace cc
