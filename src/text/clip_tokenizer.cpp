#include "text/clip_tokenizer.h"

#include <algorithm>
#include <limits>

#include "core/file.h"
#include "text/pieces.h"
#include "text/post_processor.h"
#include "text/unicode.h"

namespace cc {

namespace {

// CLIP's pre-tokenizer regex as the HF converter writes it, and the variant with the special
// tokens spelled out (openai's original). Any other pattern is refused rather than guessed at.
constexpr std::string_view kClipSplit =
    R"('s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)";
constexpr std::string_view kClipSplitWithSpecials =
    R"(<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)";

bool starts_with(std::u32string_view s, size_t at, std::u32string_view prefix) {
  return s.size() - at >= prefix.size() && s.compare(at, prefix.size(), prefix) == 0;
}

// Returns the length of the match of CLIP's split regex at `at`, or 0 where nothing matches
// (white space, which the "Removed"/invert split drops). Alternatives are tried in order.
size_t match_clip_split(std::u32string_view s, size_t at, bool with_specials) {
  if (with_specials) {
    for (std::u32string_view special : {std::u32string_view(U"<|startoftext|>"), std::u32string_view(U"<|endoftext|>")})
      if (starts_with(s, at, special)) return special.size();
  }
  for (std::u32string_view contraction : {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"})
    if (starts_with(s, at, contraction)) return contraction.size();
  const char32_t c = s[at];
  if (is_letter(c)) {
    size_t end = at + 1;
    while (end < s.size() && is_letter(s[end])) ++end;
    return end - at;
  }
  if (is_number(c)) return 1;
  auto other = [](char32_t x) { return !is_white_space(x) && !is_letter(x) && !is_number(x); };
  if (other(c)) {
    size_t end = at + 1;
    while (end < s.size() && other(s[end])) ++end;
    return end - at;
  }
  return 0;
}

}  // namespace

Result<ClipTokenizer> ClipTokenizer::load(const std::string& path) try {
  CC_TRY(nlohmann::json j, read_json(path));
  auto bad = [&](const std::string& why) { return error(path + ": " + why); };
  ClipTokenizer t;

  // Normalizer: exactly NFC, Replace(\s+ -> " "), Lowercase.
  const auto& norm = j.value("normalizer", nlohmann::json());
  auto type_of = [](const nlohmann::json& x) { return x.is_object() ? x.value("type", "") : std::string(); };
  bool norm_ok = type_of(norm) == "Sequence" && norm.contains("normalizers") && norm["normalizers"].size() == 3 &&
                 type_of(norm["normalizers"][0]) == "NFC" && type_of(norm["normalizers"][1]) == "Replace" &&
                 norm["normalizers"][1].value("/pattern/Regex"_json_pointer, "") == "\\s+" &&
                 norm["normalizers"][1].value("content", "") == " " && type_of(norm["normalizers"][2]) == "Lowercase";
  if (!norm_ok) return bad("unsupported normalizer (expected CLIP's NFC, \\s+ -> ' ', Lowercase)");

  // Pre-tokenizer: CLIP's Split (matches kept) then ByteLevel without prefix space.
  const auto& pre = j.value("pre_tokenizer", nlohmann::json());
  if (type_of(pre) != "Sequence" || !pre.contains("pretokenizers") || pre["pretokenizers"].size() != 2)
    return bad("unsupported pre_tokenizer (expected CLIP's Split + ByteLevel sequence)");
  const auto& split = pre["pretokenizers"][0];
  const auto& bytelevel = pre["pretokenizers"][1];
  const std::string pattern = split.value("/pattern/Regex"_json_pointer, "");
  if (type_of(split) != "Split" || split.value("behavior", "") != "Removed" || !split.value("invert", false) ||
      (pattern != kClipSplit && pattern != kClipSplitWithSpecials))
    return bad("unsupported Split pre-tokenizer pattern '" + pattern + "'");
  t.split_specials_in_regex_ = pattern == kClipSplitWithSpecials;
  if (type_of(bytelevel) != "ByteLevel" || bytelevel.value("add_prefix_space", true))
    return bad("unsupported pre_tokenizer (expected ByteLevel without prefix space)");

  // Model: BPE (with CLIP's "</w>" end-of-word suffix); added tokens, all normalised ones.
  CC_TRY(t.bpe_, BytePairEncoder::load(j.value("model", nlohmann::json()), path));
  for (const auto& a : j.value("added_tokens", nlohmann::json::array()))
    if (a.is_object() && !a.value("normalized", true))
      return bad("added token '" + a.value("content", std::string()) + "' is not normalized: unsupported");
  CC_TRY(t.added_tokens_, AddedTokens::load(j.value("added_tokens", nlohmann::json::array()), path));

  // Post-processor: <bos> content <eos>.
  const auto& post = j.value("post_processor", nlohmann::json());
  if (type_of(post) != "RobertaProcessing" || !post.contains("cls") || !post.contains("sep"))
    return bad("unsupported post_processor (expected RobertaProcessing with cls and sep)");
  if (auto ids = read_cls_sep_ids(post, &t.bos_id_, &t.eos_id_); !ids.ok()) return bad(ids.error().message);
  return t;
} catch (const nlohmann::json::exception& e) {
  return error(path + ": malformed tokenizer: " + e.what());
}

Result<std::u32string> ClipTokenizer::normalize(std::string_view text) const {
  CC_TRY(std::string composed, nfc(text));
  CC_TRY(std::u32string cps, decode_utf8(composed));
  std::u32string out;
  out.reserve(cps.size());
  for (size_t i = 0; i < cps.size();) {
    if (is_white_space(cps[i])) {
      out += U' ';
      while (i < cps.size() && is_white_space(cps[i])) ++i;
    } else {
      append_lowercase(out, cps[i++]);
    }
  }
  return out;
}

void ClipTokenizer::split_and_encode(std::u32string_view piece, size_t word_cap, std::vector<int32_t>& ids) const {
  for (size_t at = 0; at < piece.size();) {
    const size_t n = match_clip_split(piece, at, split_specials_in_regex_);
    if (n == 0) {
      ++at;
      continue;
    }
    std::string word = encode_utf8(piece.substr(at, n));
    if (word.size() > word_cap) word.resize(word_cap);  // its first tokens are all that is kept (pieces.h)
    bpe_.encode(word, ids);
    at += n;
  }
}

// A piece may end after white space, before a character that starts a word: the normaliser
// collapses white space runs whole, NFC never joins across it, and the split regex never
// matches it.
static bool clip_cut_here(std::string_view text, size_t at) {
  size_t start, n;
  if (!is_white_space(code_point_before(text, at, &start))) return false;
  const char32_t next = code_point_at(text, at, &n);
  return !is_white_space(next) && is_starter(next);
}

Result<std::vector<int32_t>> ClipTokenizer::encode(std::string_view text, int max_length) const {
  if (max_length < 2) return error("max_length must be at least 2 (bos and eos)");
  CC_CHECK(check_utf8(text));
  // One token past those kept says whether the text was cut. Added tokens are matched after
  // normalisation, so one that spans or swallows white space rules pieces out (CLIP's do not).
  const size_t wanted = static_cast<size_t>(max_length - 2) + 1;
  const PieceLimits limits = added_tokens_.reaches_across_white_space() ? PieceLimits{} : piece_limits(wanted, bpe_.max_token_bytes());
  std::vector<int32_t> content;
  Status failed = Ok{};
  for_each_piece(text, limits, clip_cut_here, [&](size_t begin, size_t end) {
    auto normalized = normalize(text.substr(begin, end - begin));
    if (!normalized.ok()) {
      failed = normalized.error();
      return false;
    }
    added_tokens_.split(
        normalized.value(), [&](std::u32string_view segment) { split_and_encode(segment, limits.word_cap, content); },
        [&](int32_t id) { content.push_back(id); });
    return content.size() < wanted;
  });
  CC_CHECK(failed);

  const size_t keep = std::min(content.size(), static_cast<size_t>(max_length - 2));
  std::vector<int32_t> ids;
  ids.reserve(keep + 2);
  ids.push_back(bos_id_);
  ids.insert(ids.end(), content.begin(), content.begin() + static_cast<std::ptrdiff_t>(keep));
  ids.push_back(eos_id_);
  return ids;
}

}  // namespace cc
