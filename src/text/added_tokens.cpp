#include "text/added_tokens.h"

#include <algorithm>

#include "text/pieces.h"
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
    const bool lstrip = a.value("lstrip", false), rstrip = a.value("rstrip", false);
    t.tokens_.push_back({content.value(), a["content"].get<std::string>(), a["id"].get<int32_t>(), lstrip, rstrip});
    t.across_white_space_ |= lstrip || rstrip || std::any_of(content->begin(), content->end(), is_white_space);
  }
  std::stable_sort(t.tokens_.begin(), t.tokens_.end(),
                   [](const Token& x, const Token& y) { return x.content.size() > y.content.size(); });
  return t;
}

bool AddedTokens::allows_cut(std::string_view text, size_t cut, size_t word) const {
  if (!across_white_space_) return true;
  size_t run = cut;  // where the white space starts (looked for up to 4 KB back)
  while (run > 0 && cut - run < 4096) {
    size_t start;
    if (!is_white_space(code_point_before(text, run, &start))) break;
    run = start;
  }
  if (run > 0 && cut - run >= 4096) return false;
  for (const auto& t : tokens_) {
    const size_t n = t.utf8.size();
    if (t.lstrip && text.compare(word, n, t.utf8) == 0) return false;
    if (t.rstrip && run >= n && text.compare(run - n, n, t.utf8) == 0) return false;
    for (size_t s = cut >= n ? cut - n + 1 : 0; s < cut; ++s)  // an occurrence across the cut
      if (text.compare(s, n, t.utf8) == 0) return false;
  }
  return true;
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
