// Token ids must equal the HF fast tokenizer's for every fixture string (562 hard cases).
#include <cstdio>

#include "test_util.h"
#include "core/file.h"
#include "text/clip_tokenizer.h"
#include "text/roberta_tokenizer.h"

namespace cc {
namespace {

const ClipTokenizer& tokenizer() {
  static ClipTokenizer t = [] {
    auto r = ClipTokenizer::load(test::fixture("clip-tokenizer/tokenizer.json"));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return std::move(r).value();
  }();
  return t;
}

TEST(ClipTokenizer, IdsEqualHuggingFaceOnEveryFixtureString) {
  auto cases = test::fixture_json("reference/clip_tokenizer.json");
  ASSERT_GE(cases.size(), 500u);
  int mismatches = 0;
  for (const auto& c : cases) {
    const std::string text = c["text"];
    auto cut = tokenizer().encode(text, 77);
    auto full = tokenizer().encode(text, 1 << 30);
    ASSERT_TRUE(cut.ok() && full.ok()) << text;
    const auto want_cut = c["ids"].get<std::vector<int32_t>>();
    const auto want_full = c["ids_full"].get<std::vector<int32_t>>();
    if (cut.value() != want_cut || full.value() != want_full) {
      ++mismatches;
      ADD_FAILURE() << "text: " << nlohmann::json(text).dump() << "\n  want " << nlohmann::json(want_full).dump()
                    << "\n  got  " << nlohmann::json(full.value()).dump();
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(ClipTokenizer, LongTextsEqualHuggingFaceTokenizingOnlyTheStart) {
  test::expect_long_texts_equal_hugging_face(tokenizer(), 77, "clip");
}

TEST(ClipTokenizer, TruncationKeepsEosLast) {
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "word ";
  auto ids = tokenizer().encode(long_text, 77);
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), 77u);
  EXPECT_EQ(ids->front(), 49406);
  EXPECT_EQ(ids->back(), 49407);
}

TEST(ClipTokenizer, RejectsInvalidUtf8WithAClearError) {
  for (std::string bad : {std::string("\xff"), std::string("abc\xc3"), std::string("\xed\xa0\x80"), std::string("\xc0\xaf")}) {
    auto ids = tokenizer().encode(bad, 77);
    ASSERT_FALSE(ids.ok());
    EXPECT_NE(ids.error().message.find("UTF-8"), std::string::npos);
  }
}

TEST(ClipTokenizer, RejectsTokenizersItCannotReproduce) {
  char path[] = "/tmp/clipclap_tok_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  for (const std::string& body :
       {std::string(""), std::string("{"), std::string("[]"), std::string(R"({"normalizer":null})"),
        std::string(R"({"normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "},{"type":"Lowercase"}]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\w+"},"behavior":"Removed","invert":true},{"type":"ByteLevel","add_prefix_space":false}]}})"),
        std::string(R"({"normalizer":{"type":"Sequence","normalizers":[1,2,3]}})")}) {
    FILE* f = std::fopen(path, "wb");
    std::fwrite(body.data(), 1, body.size(), f);
    std::fclose(f);
    auto t = ClipTokenizer::load(path);
    EXPECT_FALSE(t.ok()) << body;
    if (!t.ok()) {

      EXPECT_NE(t.error().message.find(path), std::string::npos);

    }
  }
  std::remove(path);
}

// Found reading the loaders after fuzz_config's findings: a short ["<s>"] list was read past
// its end, and a float id was converted to an int.
TEST(Tokenizers, PostProcessorIdsAreCheckedNotTrusted) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("clipclap_tok_" + std::to_string(::getpid()) + ".json")).string();
  for (const char* fixture : {"clip-tokenizer/tokenizer.json", "clap-tokenizer/tokenizer.json"}) {
    auto j = nlohmann::json::parse(read_file(test::fixture(fixture)).value());
    for (const nlohmann::json& cls : {nlohmann::json::array({"<s>"}), nlohmann::json::parse(R"(["<s>", 1e40])")}) {
      j["post_processor"]["cls"] = cls;
      const std::string text = j.dump();
      ASSERT_TRUE(write_file_atomic(path, text.data(), text.size()).ok());
      const auto clip = ClipTokenizer::load(path);
      const auto roberta = RobertaTokenizer::load(path);
      ASSERT_FALSE(clip.ok() || roberta.ok()) << fixture << " " << cls.dump();
      EXPECT_NE(clip.error().message.find(path), std::string::npos) << clip.error().message;
      EXPECT_NE(roberta.error().message.find(path), std::string::npos) << roberta.error().message;
    }
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace cc
