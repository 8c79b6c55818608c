#include "text/roberta_tokenizer.h"

#include <algorithm>

#include "core/file.h"
#include "text/pieces.h"
#include "text/post_processor.h"
#include "text/unicode.h"

namespace cc {

size_t match_gpt2_pretokenizer(std::u32string_view s, size_t at) {
  for (std::u32string_view contraction : {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"})
    if (s.size() - at >= contraction.size() && s.compare(at, contraction.size(), contraction) == 0)
      return contraction.size();
  auto other = [](char32_t c) { return !is_white_space(c) && !is_letter(c) && !is_number(c); };
  auto run = [&](size_t from, auto in_class) {
    size_t end = from;
    while (end < s.size() && in_class(s[end])) ++end;
    return end;
  };
  // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional single space, then a class run.
  const size_t body = (s[at] == U' ' && at + 1 < s.size()) ? at + 1 : at;
  for (size_t start : {body, at}) {
    if (start >= s.size()) continue;
    const char32_t c = s[start];
    if (is_letter(c)) return run(start, is_letter) - at;
    if (is_number(c)) return run(start, is_number) - at;
    if (other(c)) return run(start, other) - at;
  }
  // "\s+(?!\S)": a white-space run that is not followed by a non-space, so a run before a word
  // gives up its last character (which then prefixes the word); else "\s+".
  const size_t end = run(at, is_white_space);
  if (end == s.size() || end - at == 1) return end - at;
  return end - at - 1;
}

Result<RobertaTokenizer> RobertaTokenizer::load(const std::string& path) try {
  CC_TRY(nlohmann::json j, read_json(path));
  auto bad = [&](const std::string& why) { return error(path + ": " + why); };
  if (!j.is_object()) return bad("not a JSON object");
  if (!j.value("normalizer", nlohmann::json()).is_null()) return bad("unsupported normalizer (RoBERTa has none)");
  const auto& pre = j.value("pre_tokenizer", nlohmann::json());
  if (!pre.is_object() || pre.value("type", "") != "ByteLevel" || pre.value("add_prefix_space", true) ||
      !pre.value("use_regex", true))
    return bad("unsupported pre_tokenizer (expected ByteLevel with GPT-2's regex, no prefix space)");
  RobertaTokenizer t;
  CC_TRY(t.bpe_, BytePairEncoder::load(j.value("model", nlohmann::json()), path));
  CC_TRY(t.added_tokens_, AddedTokens::load(j.value("added_tokens", nlohmann::json::array()), path));
  const auto& post = j.value("post_processor", nlohmann::json());
  if (!post.is_object() || post.value("type", "") != "RobertaProcessing" || !post.contains("cls") || !post.contains("sep"))
    return bad("unsupported post_processor (expected RobertaProcessing)");
  if (auto ids = read_cls_sep_ids(post, &t.cls_id_, &t.sep_id_); !ids.ok()) return bad(ids.error().message);
  return t;
} catch (const nlohmann::json::exception& e) {
  return error(path + ": malformed tokenizer: " + e.what());
}

void RobertaTokenizer::pre_tokenize_and_encode(std::u32string_view segment, size_t word_cap, std::vector<int32_t>& ids) const {
  for (size_t at = 0; at < segment.size();) {
    const size_t n = match_gpt2_pretokenizer(segment, at);
    std::string word = encode_utf8(segment.substr(at, n));
    if (word.size() > word_cap) word.resize(word_cap);  // its first tokens are all that is kept (pieces.h)
    bpe_.encode(word, ids);
    at += n;
  }
}

Result<std::vector<int32_t>> RobertaTokenizer::encode(std::string_view text, int max_length) const {
  if (max_length < 2) return error("max_length must be at least 2 (<s> and </s>)");
  CC_CHECK(check_utf8(text));
  // A piece may end before the last character of a white-space run that a word follows: GPT-2's
  // regex always splits there (that character joins the word, or stands alone), unless an added
  // token spans or swallows that run.
  auto cut_here = [this](std::string_view t, size_t at) {
    size_t n, m;
    if (!is_white_space(code_point_at(t, at, &n)) || at + n >= t.size() || is_white_space(code_point_at(t, at + n, &m))) return false;
    return added_tokens_.allows_cut(t, at, at + n);
  };
  const size_t wanted = static_cast<size_t>(max_length - 2) + 1;  // one more says whether the text was cut
  const PieceLimits limits = piece_limits(wanted, bpe_.max_token_bytes());
  std::vector<int32_t> content;
  for_each_piece(text, limits, cut_here, [&](size_t begin, size_t end) {
    const std::u32string cps = decode_utf8(text.substr(begin, end - begin)).value();  // checked above
    added_tokens_.split(
        cps, [&](std::u32string_view segment) { pre_tokenize_and_encode(segment, limits.word_cap, content); },
        [&](int32_t id) { content.push_back(id); });
    return content.size() < wanted;
  });
  const size_t keep = std::min(content.size(), static_cast<size_t>(max_length - 2));
  std::vector<int32_t> ids{cls_id_};
  ids.insert(ids.end(), content.begin(), content.begin() + static_cast<std::ptrdiff_t>(keep));
  ids.push_back(sep_id_);
  return ids;
}

}  // namespace cc
