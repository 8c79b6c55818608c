// Added (special) tokens of tokenizer.json: found in the text before pre-tokenization, leftmost
// and longest first, as HF's AddedVocabulary splits; `lstrip`/`rstrip` tokens swallow the
// white space beside them (RoBERTa's <mask>).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace cc {

class AddedTokens {
 public:
  static Result<AddedTokens> load(const nlohmann::json& added_tokens, const std::string& path);

  // Calls `segment` for the text between tokens and `token` for each token id, in order.
  void split(std::u32string_view text, const std::function<void(std::u32string_view)>& segment,
             const std::function<void(int32_t)>& token) const;

 private:
  struct Token {
    std::u32string content;
    int32_t id;
    bool lstrip, rstrip;
  };
  std::vector<Token> tokens_;  // longest first
};

}  // namespace cc
