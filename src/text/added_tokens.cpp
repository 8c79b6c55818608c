#include "text/added_tokens.h"

#include <algorithm>

#include "text/unicode.h"

namespace cc {

Result<AddedTokens> AddedTokens::load(const nlohmann::json& added, const std::string& path) {
  AddedTokens t;
  if (!added.is_array()) return t;
  for (const auto& a : added) {
    if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("id") ||
        !a["id"].is_number_integer())
      return error(path + ": malformed added_tokens entry");
    auto content = decode_utf8(a["content"].get<std::string>());
    if (!content.ok() || content->empty()) return error(path + ": added token content is empty or not UTF-8");
    if (a.value("single_word", false)) return error(path + ": single_word added tokens are not supported");
    t.tokens_.push_back({content.value(), a["id"].get<int32_t>(), a.value("lstrip", false), a.value("rstrip", false)});
  }
  std::stable_sort(t.tokens_.begin(), t.tokens_.end(),
                   [](const Token& x, const Token& y) { return x.content.size() > y.content.size(); });
  return t;
}

void AddedTokens::split(std::u32string_view text, const std::function<void(std::u32string_view)>& segment,
                        const std::function<void(int32_t)>& token) const {
  size_t start = 0;
  for (size_t at = 0; at < text.size();) {
    const Token* match = nullptr;
    for (const auto& t : tokens_) {
      if (text.size() - at >= t.content.size() && text.compare(at, t.content.size(), t.content) == 0) {
        match = &t;
        break;
      }
    }
    if (!match) {
      ++at;
      continue;
    }
    size_t seg_end = at, next = at + match->content.size();
    if (match->lstrip)
      while (seg_end > start && is_white_space(text[seg_end - 1])) --seg_end;
    if (match->rstrip)
      while (next < text.size() && is_white_space(text[next])) ++next;
    segment(text.substr(start, seg_end - start));
    token(match->id);
    at = start = next;
  }
  segment(text.substr(start));
}

}  // namespace cc
