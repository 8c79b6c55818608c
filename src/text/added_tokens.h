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

  // Whether a text may be cut at byte `cut` of the white space that ends at byte `word` (where a
  // word starts) and its parts split apart with the same result: no token spans the cut, and
  // none swallows that white space (an lstrip token at `word`, an rstrip one just before it).
  bool allows_cut(std::string_view text, size_t cut, size_t word) const;
  // Whether some token contains white space or swallows it (the check above then matters).
  bool reaches_across_white_space() const { return across_white_space_; }

 private:
  struct Token {
    std::u32string content;
    std::string utf8;
    int32_t id;
    bool lstrip, rstrip;
  };
  bool across_white_space_ = false;
  std::vector<Token> tokens_;  // longest first
};

}  // namespace cc
