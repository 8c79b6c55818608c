// The byte-level BPE model of HF tokenizers (the "model" section of tokenizer.json): GPT-2's
// byte-to-unicode mapping, then merges applied by rank. Shared by CLIP's and RoBERTa's tokenizers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace cc {

class BytePairEncoder {
 public:
  // `model` is tokenizer.json's "model" object; `path` names the file in errors.
  static Result<BytePairEncoder> load(const nlohmann::json& model, const std::string& path);

  // Appends the ids of one pre-token given as raw UTF-8 bytes.
  void encode(std::string_view piece, std::vector<int32_t>& ids) const;

  int32_t id(const std::string& token) const;  // the unk id (or -1) when absent
  size_t vocab_size() const { return vocab_.size(); }
  // The most input bytes one token stands for (its byte-level characters, without the suffix).
  size_t max_token_bytes() const { return max_token_bytes_; }

 private:
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int32_t> merge_ranks_;  // key: left + ' ' + right
  std::array<std::string, 256> byte_symbol_;              // GPT-2's bytes_to_unicode, as UTF-8
  std::string end_of_word_suffix_;
  int32_t unk_id_ = -1;
  size_t max_token_bytes_ = 0;
};

}  // namespace cc
