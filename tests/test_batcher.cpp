// The batcher's waiting rule, without HTTP: a lane with room waits for its items being
// prepared, and for requests not yet parsed while they keep moving; it stops once they are
// queued or gone.
#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <memory>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "server/batcher.h"
#include "test_util.h"

namespace cc {
namespace {

using namespace std::chrono_literals;

// (items, batches) the batcher has run, read back from the Prometheus text.
std::pair<double, double> batch_totals(const Metrics& metrics) {
  const std::string text = metrics.render();
  auto value = [&](const std::string& name) {
    std::smatch m;
    return std::regex_search(text, m, std::regex(name + R"(\{[^}]*\} (\S+))")) ? std::stod(m[1]) : 0.0;
  };
  return {value("clipclap_batch_size_sum"), value("clipclap_batch_size_count")};
}

class BatcherWaits : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = Embedder::load(test::fixture("models/clip-tiny-b"));
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    model_ = std::move(loaded).value();
    metrics_.describe("clipclap_batch_size", "histogram", "items per batch", {1, 2, 4, 8});
    rebuild(5ms);
  }

  void rebuild(std::chrono::milliseconds max_wait, int max_batch_tokens = 1024) {
    batcher_.reset();
    BatcherOptions opts;
    opts.max_batch = 4;
    opts.max_batch_tokens = max_batch_tokens;
    opts.max_wait = max_wait;
    opts.incoming_wait = 60s;  // only the requests themselves end the wait in these tests
    batcher_ = std::make_unique<Batcher>(opts, metrics_);
    batcher_->add_model("m", model_.get());
  }

  // A submitted text's job, and whether it is done.
  struct Submitted {
    std::shared_ptr<Job> job;
    std::shared_ptr<std::promise<void>> done = std::make_shared<std::promise<void>>();
    std::shared_future<void> finished = done->get_future().share();
    bool done_within(std::chrono::seconds s) const { return finished.wait_for(s) == std::future_status::ready; }
  };

  Submitted submit_text(const std::string& text) {
    std::vector<PreparedInput> items(1);
    items[0].modality = Modality::kText;
    items[0].ids = model_->tokenize(text).value();
    Submitted sub;
    sub.job = std::make_shared<Job>(1, [done = sub.done] { done->set_value(); });
    EXPECT_TRUE(batcher_->submit("m", sub.job, std::move(items)));
    return sub;
  }

  std::unique_ptr<Embedder> model_;
  Metrics metrics_;
  std::unique_ptr<Batcher> batcher_;
};

TEST_F(BatcherWaits, ForItsItemsBeingPreparedThenTheyShareABatch) {
  auto arriving = std::make_unique<Batcher::Announcement>(batcher_.get());
  arriving->items("m", {Modality::kText});  // parsed: a text item is being prepared
  auto first = submit_text("a dog");
  std::this_thread::sleep_for(300ms);  // 60 times max_wait
  EXPECT_EQ(batch_totals(metrics_).second, 0) << "the lane ran without the item being prepared for it";
  auto second = submit_text("a cat");
  arriving->delivered();
  EXPECT_TRUE(first.done_within(10s));
  EXPECT_TRUE(second.done_within(10s));
  EXPECT_EQ(batch_totals(metrics_), std::make_pair(2.0, 1.0)) << "both items in one batch";
}

TEST_F(BatcherWaits, ForUnparsedRequestsWhileTheyKeepMoving) {
  // Requests whose lane is not known yet hold a lane only while some request arrives, is parsed
  // or is queued at least every max_wait: here every 20 ms against a max_wait of 300 ms.
  rebuild(300ms);
  auto first = submit_text("a dog");
  std::vector<std::unique_ptr<Batcher::Announcement>> arriving;
  for (int i = 0; i < 40; ++i) {  // 0.8 s: more than twice max_wait
    arriving.push_back(std::make_unique<Batcher::Announcement>(batcher_.get()));
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(batch_totals(metrics_).second, 0) << "the lane ran while requests were still arriving";
  auto second = submit_text("a cat");
  const auto quiet_from = Clock::now();
  EXPECT_TRUE(first.done_within(20s));
  EXPECT_TRUE(second.done_within(20s));
  EXPECT_LT(Clock::now() - quiet_from, 10s) << "stalled arrivals held the lane for incoming_wait";
  EXPECT_EQ(batch_totals(metrics_), std::make_pair(2.0, 1.0));
}

TEST_F(BatcherWaits, NoLongerOnceTheRequestBeingPreparedFails) {
  auto arriving = std::make_unique<Batcher::Announcement>(batcher_.get());
  arriving->items("m", {Modality::kText});
  auto job = submit_text("a dog");
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(batch_totals(metrics_).second, 0);
  const auto failed_at = Clock::now();
  arriving.reset();  // its text was refused: it never queues anything
  EXPECT_TRUE(job.done_within(10s));
  EXPECT_LT(Clock::now() - failed_at, 5s);
  EXPECT_EQ(batch_totals(metrics_), std::make_pair(1.0, 1.0));
}

TEST_F(BatcherWaits, AFailedItemFailsItsRequestOnceAndDropsItsOtherLanes) {
  // One request, an image (whose tower call fails: wrong size) and a text in two lanes. The text
  // lane is held by an announced text; the image lane runs, fails the job, and the text is then
  // dropped, never run: the job finishes once and its counter is not decremented past zero.
  auto arriving = std::make_unique<Batcher::Announcement>(batcher_.get());
  arriving->items("m", {Modality::kText});
  std::vector<PreparedInput> items(2);
  items[0].modality = Modality::kImage;
  items[0].pixels.assign(7, 0.0f);
  items[1].modality = Modality::kText;
  items[1].ids = model_->tokenize("a dog").value();
  std::atomic<int> done{0};
  auto job = std::make_shared<Job>(2, [&] { ++done; });
  ASSERT_TRUE(batcher_->submit("m", job, std::move(items)));
  const auto until = Clock::now() + 10s;
  while (done == 0 && Clock::now() < until) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(done, 1);
  EXPECT_NE(job->error.find("pixel_values"), std::string::npos) << job->error;
  EXPECT_TRUE(job->cancelled());
  arriving.reset();  // the text lane may run now: the failed job's text is dropped
  auto later = submit_text("a cat");
  EXPECT_TRUE(later.done_within(10s));
  EXPECT_EQ(done, 1);
  const std::string text = metrics_.render();
  EXPECT_EQ(text.find("clipclap_items_embedded_total{model=\"m\",modality=\"text\"} 2"), std::string::npos) << text;
}

TEST(JobTest, FillsAfterAFailureAreIgnoredAndNonFiniteVectorsFail) {
  int done = 0;
  Job job(3, [&] { ++done; });
  const float v[2] = {1, 0}, nan[2] = {NAN, 0};
  job.fill(0, v, 2);
  job.fail("boom");
  job.fill(1, v, 2);
  job.fill(2, v, 2);
  EXPECT_EQ(done, 1);
  EXPECT_EQ(job.error, "boom");
  Job poisoned(2, [&] { ++done; });
  poisoned.fill(0, nan, 2);
  EXPECT_EQ(done, 2);
  EXPECT_NE(poisoned.error.find("non-finite"), std::string::npos);
  poisoned.fill(1, v, 2);
  EXPECT_EQ(done, 2);
}

TEST(ResultDeathTest, ValueOfAnErrorAbortsWithItsMessage) {
  Result<int> r = error("the thing that went wrong");
  EXPECT_DEATH((void)r.value(), "the value of a failed result was used; the error was: the thing that went wrong");
}

TEST_F(BatcherWaits, OnlyMaxWaitWhenNothingIsComing) {
  const auto start = Clock::now();
  auto job = submit_text("a dog");
  EXPECT_TRUE(job.done_within(10s));
  EXPECT_LT(Clock::now() - start, 5s);  // not incoming_wait's 60 s
}

// One long text does not pad the short ones: with a budget of 40 tokens, a 30-token text and
// three 3-token texts queued together run as [long], [short × 3] (30 × 2 > 40), not one batch.
TEST_F(BatcherWaits, TextBatchesKeepToTheTokenBudget) {
  rebuild(200ms, 40);
  std::string long_text;
  for (int i = 0; i < 28; ++i) long_text += "word ";
  ASSERT_GE(model_->tokenize(long_text)->size(), 21u);
  std::vector<Submitted> jobs = {submit_text(long_text), submit_text("a dog"), submit_text("a cat"), submit_text("a cow")};
  for (const auto& j : jobs) EXPECT_TRUE(j.done_within(10s));
  const auto [items, batches] = batch_totals(metrics_);
  EXPECT_EQ(items, 4);
  EXPECT_EQ(batches, 2);
  // without the budget's limit they share one batch
  rebuild(200ms, 1 << 20);
  const auto [items0, batches0] = batch_totals(metrics_);
  jobs = {submit_text(long_text), submit_text("a dog"), submit_text("a cat"), submit_text("a cow")};
  for (const auto& j : jobs) EXPECT_TRUE(j.done_within(10s));
  const auto [items1, batches1] = batch_totals(metrics_);
  EXPECT_EQ(items1 - items0, 4);
  EXPECT_EQ(batches1 - batches0, 1);
}

}  // namespace
}  // namespace cc
