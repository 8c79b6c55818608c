// CLAP's text side against transformers: RobertaTokenizerFast ids for every fixture string
// (570), GPT-2's pre-tokenizer regex on its corner cases, and get_text_features vectors.
#include <cstdio>

#include "model/clap_text_model.h"
#include "test_util.h"
#include "text/roberta_tokenizer.h"
#include "text/unicode.h"

namespace cc {
namespace {

TEST(RobertaTokenizer, IdsEqualHuggingFaceOnEveryFixtureString) {
  auto tok = RobertaTokenizer::load(test::fixture("clap-tokenizer/tokenizer.json"));
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const auto cases = test::fixture_json("reference/clap_tokenizer.json");
  ASSERT_GE(cases.size(), 500u);
  int mismatches = 0;
  for (const auto& c : cases) {
    const std::string text = c["text"];
    auto cut = tok->encode(text, 78);
    auto full = tok->encode(text, 1 << 30);
    ASSERT_TRUE(cut.ok() && full.ok()) << text;
    if (cut.value() != c["ids"].get<std::vector<int32_t>>() || full.value() != c["ids_full"].get<std::vector<int32_t>>()) {
      ++mismatches;
      ADD_FAILURE() << "text: " << nlohmann::json(text).dump() << "\n  want " << c["ids_full"].dump() << "\n  got  "
                    << nlohmann::json(full.value()).dump();
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(RobertaTokenizer, LongTextsEqualHuggingFaceTokenizingOnlyTheStart) {
  auto tok = RobertaTokenizer::load(test::fixture("clap-tokenizer/tokenizer.json"));
  ASSERT_TRUE(tok.ok());
  test::expect_long_texts_equal_hugging_face(tok.value(), 78, "clap");
}

TEST(RobertaTokenizer, Gpt2PreTokenizerCornerCases) {
  auto pieces = [](const std::string& s) {
    const auto cps = decode_utf8(s).value();
    std::vector<std::string> out;
    for (size_t at = 0; at < cps.size();) {
      const size_t n = match_gpt2_pretokenizer(cps, at);
      out.push_back(encode_utf8(std::u32string_view(cps).substr(at, n)));
      at += n;
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pieces("a  b"), (V{"a", " ", " b"}));           // a space run gives its last space to the word
  EXPECT_EQ(pieces("x   "), (V{"x", "   "}));               // at the end it stays whole
  EXPECT_EQ(pieces("a \n b"), (V{"a", " \n", " b"}));
  EXPECT_EQ(pieces("a\nb"), (V{"a", "\n", "b"}));           // one non-space white space: \s+
  EXPECT_EQ(pieces("it's 12 !!"), (V{"it", "'s", " 12", " !!"}));
  EXPECT_EQ(pieces("IT'S"), (V{"IT", "'", "S"}));           // contractions are case-sensitive
}

class ClapTextParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ClapTextParity, TextEmbeddingsMatchHuggingFace) {
  auto m = ClapTextModel::load(test::fixture_model(GetParam()), test::fixture_weight_options(GetParam()));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m.value()->packed_weight_bytes() > 0, test::expects_packed(GetParam()));
  const auto ref = test::fixture_json("reference/" + test::base_model(GetParam()) + ".json");
  std::vector<std::string> texts;
  for (const auto& t : ref["texts"]) {
    texts.push_back(t["text"]);
    auto ids = m.value()->tokenize(texts.back());
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(ids.value(), t["ids"].get<std::vector<int32_t>>()) << texts.back();
  }
  auto batch = m.value()->embed_texts(texts);
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  double worst_cos = 1, worst_diff = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto want = ref["texts"][i]["embedding"].get<std::vector<float>>();
    auto alone = m.value()->embed_texts({texts[i]});  // padding must not change a vector
    ASSERT_TRUE(alone.ok());
    for (const float* got : {batch->row(i), alone->row(0)}) {
      const double cos = test::cosine(got, want), diff = test::max_abs_diff(got, want);
      EXPECT_GE(cos, test::kMinCosine) << texts[i];
      EXPECT_LE(diff, test::kMaxAbsDiff) << texts[i];
      worst_cos = std::min(worst_cos, cos);
      worst_diff = std::max(worst_diff, diff);
    }
  }
  std::printf("%s CLAP text parity: %zu texts, min cosine %.8f, max |diff| %.2e\n", GetParam().c_str(), texts.size(),
              worst_cos, worst_diff);
}

// "+packed": the same checkpoints with packed weights beside them (`clipclap pack`).
INSTANTIATE_TEST_SUITE_P(TinyCheckpoints, ClapTextParity,
                         ::testing::Values("clap-tiny-a", "clap-tiny-b", "clap-tiny-fused", "clap-tiny-a+packed",
                                           "clap-tiny-b+packed", "clap-tiny-fused+packed"));

}  // namespace
TEST(ClapTextConfig, SizesOutsideAnIntAreRefused) {
  EXPECT_FALSE(read_clap_text_config({{"text_config", {{"max_position_embeddings", -2147483647 - 1}}}}).ok());
  EXPECT_FALSE(read_clap_text_config({{"text_config", {{"max_position_embeddings", 0}}}}).ok());
  EXPECT_TRUE(read_clap_text_config({{"text_config", nlohmann::json::object()}}).ok());
}

}  // namespace cc
