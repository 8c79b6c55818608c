#include "text/clip_tokenizer.h"

#include <algorithm>
#include <limits>

#include "core/file.h"
#include "text/unicode.h"

namespace cc {

namespace {

// CLIP's pre-tokenizer regex as the HF converter writes it, and the variant with the special
// tokens spelled out (openai's original). Any other pattern is refused rather than guessed at.
constexpr std::string_view kClipSplit =
    R"('s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)";
constexpr std::string_view kClipSplitWithSpecials =
    R"(<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)";

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards.
std::array<std::string, 256> make_byte_symbols() {
  std::array<std::string, 256> table;
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    std::string s;
    append_utf8(s, printable ? static_cast<char32_t>(b) : next++);
    table[b] = s;
  }
  return table;
}

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
  t.byte_symbol_ = make_byte_symbols();

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

  // Model: BPE with an end-of-word suffix.
  const auto& model = j.value("model", nlohmann::json());
  if (type_of(model) != "BPE" || !model.contains("vocab") || !model["vocab"].is_object() ||
      !model.contains("merges") || !model["merges"].is_array())
    return bad("model is not a BPE model with vocab and merges");
  if (!model.value("continuing_subword_prefix", nlohmann::json("")).is_string() ||
      !model.value("continuing_subword_prefix", std::string()).empty() || !model["dropout"].is_null())
    return bad("unsupported BPE options (continuing_subword_prefix or dropout)");
  t.end_of_word_suffix_ = model.value("end_of_word_suffix", std::string());
  for (auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_integer()) return bad("vocab id of '" + token + "' is not an integer");
    t.vocab_[token] = id.get<int32_t>();
  }
  int32_t rank = 0;
  for (const auto& m : model["merges"]) {
    std::string key;
    if (m.is_string()) {
      key = m.get<std::string>();  // older files: "left right"
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      key = m[0].get<std::string>() + " " + m[1].get<std::string>();
    } else {
      return bad("malformed merge at rank " + std::to_string(rank));
    }
    t.merge_ranks_.emplace(key, rank++);
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) t.unk_id_ = t.token_id(model["unk_token"]);

  for (const auto& a : j.value("added_tokens", nlohmann::json::array())) {
    if (!a.is_object() || !a.contains("content") || !a.contains("id")) return bad("malformed added_tokens entry");
    if (!a.value("normalized", true))
      return bad("added token '" + a["content"].get<std::string>() + "' is not normalized: unsupported");
    auto content = decode_utf8(a["content"].get<std::string>());
    if (!content.ok() || content->empty()) return bad("added token content is empty or not UTF-8");
    t.added_tokens_.push_back({content.value(), a["id"].get<int32_t>()});
  }
  // Longest first, so matching below is leftmost-longest as in HF's added-vocabulary split.
  std::sort(t.added_tokens_.begin(), t.added_tokens_.end(),
            [](const AddedToken& x, const AddedToken& y) { return x.content.size() > y.content.size(); });

  // Post-processor: <bos> content <eos>.
  const auto& post = j.value("post_processor", nlohmann::json());
  if (type_of(post) != "RobertaProcessing" || !post.contains("cls") || !post.contains("sep"))
    return bad("unsupported post_processor (expected RobertaProcessing with cls and sep)");
  t.bos_id_ = post["cls"][1].get<int32_t>();
  t.eos_id_ = post["sep"][1].get<int32_t>();
  return t;
} catch (const nlohmann::json::exception& e) {
  return error(path + ": malformed tokenizer: " + e.what());
}

int32_t ClipTokenizer::token_id(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? unk_id_ : it->second;
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

void ClipTokenizer::bpe(const std::string& mapped_word, std::vector<int32_t>& ids) const {
  // Symbols start as single (byte-mapped) characters; the last carries the end-of-word suffix.
  std::vector<std::string> symbols;
  for (size_t i = 0; i < mapped_word.size();) {
    size_t len = 1;
    const unsigned char lead = static_cast<unsigned char>(mapped_word[i]);
    if (lead >= 0xF0) len = 4;
    else if (lead >= 0xE0) len = 3;
    else if (lead >= 0xC0) len = 2;
    symbols.push_back(mapped_word.substr(i, len));
    i += len;
  }
  if (symbols.empty()) return;
  symbols.back() += end_of_word_suffix_;

  // Repeatedly merge the adjacent pair of lowest rank, every occurrence left to right.
  while (symbols.size() > 1) {
    int32_t best = std::numeric_limits<int32_t>::max();
    std::string best_key;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = merge_ranks_.find(symbols[i] + " " + symbols[i + 1]);
      if (it != merge_ranks_.end() && it->second < best) {
        best = it->second;
        best_key = it->first;
      }
    }
    if (best == std::numeric_limits<int32_t>::max()) break;
    std::vector<std::string> merged;
    merged.reserve(symbols.size());
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (i + 1 < symbols.size() && symbols[i].size() + 1 + symbols[i + 1].size() == best_key.size() &&
          symbols[i] + " " + symbols[i + 1] == best_key) {
        merged.push_back(symbols[i] + symbols[i + 1]);
        ++i;
      } else {
        merged.push_back(symbols[i]);
      }
    }
    symbols.swap(merged);
  }
  for (const auto& s : symbols) ids.push_back(token_id(s));
}

void ClipTokenizer::split_and_encode(std::u32string_view piece, std::vector<int32_t>& ids) const {
  for (size_t at = 0; at < piece.size();) {
    const size_t n = match_clip_split(piece, at, split_specials_in_regex_);
    if (n == 0) {
      ++at;
      continue;
    }
    std::string mapped;
    for (unsigned char b : encode_utf8(piece.substr(at, n))) mapped += byte_symbol_[b];
    bpe(mapped, ids);
    at += n;
  }
}

Result<std::vector<int32_t>> ClipTokenizer::encode(std::string_view text, int max_length) const {
  if (max_length < 2) return error("max_length must be at least 2 (bos and eos)");
  CC_TRY(std::u32string normalized, normalize(text));

  std::vector<int32_t> content;
  size_t segment_start = 0;
  for (size_t at = 0; at < normalized.size();) {
    size_t matched = 0;
    int32_t matched_id = -1;
    for (const auto& a : added_tokens_) {
      if (starts_with(normalized, at, a.content)) {
        matched = a.content.size();
        matched_id = a.id;
        break;  // longest first
      }
    }
    if (matched == 0) {
      ++at;
      continue;
    }
    split_and_encode(std::u32string_view(normalized).substr(segment_start, at - segment_start), content);
    content.push_back(matched_id);
    at += matched;
    segment_start = at;
  }
  split_and_encode(std::u32string_view(normalized).substr(segment_start), content);

  const size_t keep = std::min(content.size(), static_cast<size_t>(max_length - 2));
  std::vector<int32_t> ids;
  ids.reserve(keep + 2);
  ids.push_back(bos_id_);
  ids.insert(ids.end(), content.begin(), content.begin() + static_cast<std::ptrdiff_t>(keep));
  ids.push_back(eos_id_);
  return ids;
}

}  // namespace cc
