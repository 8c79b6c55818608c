#include "text/bpe.h"

#include <algorithm>
#include <limits>
#include <string_view>

#include "text/unicode.h"

namespace cc {

namespace {

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

}  // namespace

Result<BytePairEncoder> BytePairEncoder::load(const nlohmann::json& model, const std::string& path) {
  auto bad = [&](const std::string& why) { return error(path + ": " + why); };
  if (!model.is_object() || model.value("type", "") != "BPE" || !model.contains("vocab") || !model["vocab"].is_object() ||
      !model.contains("merges") || !model["merges"].is_array())
    return bad("model is not a BPE model with vocab and merges");
  const auto& prefix = model.value("continuing_subword_prefix", nlohmann::json(""));
  if ((!prefix.is_null() && !(prefix.is_string() && prefix.get<std::string>().empty())) ||
      !model.value("dropout", nlohmann::json()).is_null() || model.value("byte_fallback", false))
    return bad("unsupported BPE options (continuing_subword_prefix, dropout or byte_fallback)");
  BytePairEncoder b;
  b.byte_symbol_ = make_byte_symbols();
  const auto& suffix = model.value("end_of_word_suffix", nlohmann::json(""));
  b.end_of_word_suffix_ = suffix.is_string() ? suffix.get<std::string>() : "";
  for (auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_integer()) return bad("vocab id of '" + token + "' is not an integer");
    b.vocab_[token] = id.get<int32_t>();
    std::string_view bytes = token;
    if (!b.end_of_word_suffix_.empty() && bytes.ends_with(b.end_of_word_suffix_)) bytes.remove_suffix(b.end_of_word_suffix_.size());
    size_t chars = 0;  // byte-level characters: one input byte each
    for (unsigned char c : bytes) chars += (c & 0xC0) != 0x80;
    b.max_token_bytes_ = std::max(b.max_token_bytes_, chars);
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
    b.merge_ranks_.emplace(key, rank++);
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) b.unk_id_ = b.id(model["unk_token"]);
  return b;
}

int32_t BytePairEncoder::id(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? unk_id_ : it->second;
}

void BytePairEncoder::encode(std::string_view piece, std::vector<int32_t>& ids) const {
  // Symbols start as single byte-mapped characters; the last carries the end-of-word suffix.
  std::vector<std::string> symbols;
  for (unsigned char byte : piece) symbols.push_back(byte_symbol_[byte]);
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
  for (const auto& s : symbols) ids.push_back(id(s));
}

}  // namespace cc
