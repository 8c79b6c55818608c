// The batcher's waiting rule, without HTTP: a lane with room waits for requests that have
// arrived but are not yet parsed or prepared, and stops waiting once they are queued or gone.
#include <chrono>
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
    BatcherOptions opts;
    opts.max_batch = 4;
    opts.max_wait = 5ms;
    opts.incoming_wait = 60s;  // only the requests themselves end the wait in these tests
    batcher_ = std::make_unique<Batcher>(opts, metrics_);
    batcher_->add_model("m", model_.get());
  }

  std::shared_ptr<Job> submit_text(const std::string& text) {
    std::vector<Prepared> items(1);
    items[0].modality = Modality::kText;
    items[0].ids = model_->tokenize(text).value();
    auto job = std::make_shared<Job>(1);
    EXPECT_TRUE(batcher_->submit("m", job, std::move(items)));
    return job;
  }

  std::unique_ptr<Embedder> model_;
  Metrics metrics_;
  std::unique_ptr<Batcher> batcher_;
};

TEST_F(BatcherWaits, ForARequestStillBeingParsedThenSharesItsBatch) {
  auto arriving = std::make_unique<Batcher::Announcement>(batcher_.get());
  auto first = submit_text("a dog");
  std::this_thread::sleep_for(300ms);  // 60 times max_wait
  EXPECT_EQ(batch_totals(metrics_).second, 0) << "the lane ran without the request that had arrived";

  arriving->items("m", {Modality::kText});  // parsed: a text item is being prepared
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(batch_totals(metrics_).second, 0);
  auto second = submit_text("a cat");
  arriving->delivered();
  EXPECT_EQ(first->wait(Clock::now() + 10s, nullptr), Job::Outcome::kDone);
  EXPECT_EQ(second->wait(Clock::now() + 10s, nullptr), Job::Outcome::kDone);
  EXPECT_EQ(batch_totals(metrics_), std::make_pair(2.0, 1.0)) << "both items in one batch";
}

TEST_F(BatcherWaits, NoLongerOnceTheArrivingRequestFails) {
  auto arriving = std::make_unique<Batcher::Announcement>(batcher_.get());
  auto job = submit_text("a dog");
  std::this_thread::sleep_for(100ms);
  const auto failed_at = Clock::now();
  arriving.reset();  // the request was malformed: it never queues anything
  EXPECT_EQ(job->wait(Clock::now() + 10s, nullptr), Job::Outcome::kDone);
  EXPECT_LT(Clock::now() - failed_at, 5s);
  EXPECT_EQ(batch_totals(metrics_), std::make_pair(1.0, 1.0));
}

TEST_F(BatcherWaits, OnlyMaxWaitWhenNothingIsComing) {
  const auto start = Clock::now();
  auto job = submit_text("a dog");
  EXPECT_EQ(job->wait(Clock::now() + 10s, nullptr), Job::Outcome::kDone);
  EXPECT_LT(Clock::now() - start, 5s);  // not incoming_wait's 60 s
}

}  // namespace
}  // namespace cc
