// Batching across requests. Items from concurrent requests queue per model and modality; one
// inference thread takes a batch when a lane holds --max-batch items or its oldest item has
// waited --max-wait. Requests announce themselves on arrival and their items before
// preparing them (decoding takes milliseconds), and a lane waits a little longer for what is
// announced, so that requests arriving together share a batch. A batch takes items
// round-robin across the requests waiting in the lane, so a request with many items gets its
// share of each batch and no more. One inference thread (whose GEMMs use --threads cores)
// means batches never compete for cores.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "model/embedder.h"
#include "server/metrics.h"
#include "server/prepare.h"

namespace cc {

using Clock = std::chrono::steady_clock;

// One request's items for one model, waiting for their vectors. `on_done` runs once, on the
// inference thread, when every item has its vector or one failed; a failure also cancels the
// job, so its items waiting in other lanes are dropped rather than run.
class Job {
 public:
  Job(size_t items, std::function<void()> on_done) : vectors(items), remaining_(items), on_done_(std::move(on_done)) {}
  void fill(size_t index, const float* v, int dim);
  void fail(const std::string& message);
  // Its items still queued are dropped and free their places; on_done never runs.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  std::vector<std::vector<float>> vectors;
  std::string error;  // set when an item failed

 private:
  std::mutex mu_;
  size_t remaining_;
  bool finished_ = false;
  std::function<void()> on_done_;
  std::atomic<bool> cancelled_{false};
};

struct BatcherOptions {
  int max_batch = 32;
  // Text batches are padded to their longest text: a batch holds at most this many tokens
  // (longest × items), so one long text does not pad many short ones (TEI's max batch tokens).
  // A text longer than the budget still goes, alone.
  int max_batch_tokens = 1024;
  std::chrono::microseconds max_wait{5000};
  std::chrono::microseconds incoming_wait{100000};  // beyond max_wait, for items still being prepared
  size_t max_queue = 1024;  // items waiting across all lanes; beyond it requests get 503
};

class Batcher {
 public:
  Batcher(const BatcherOptions& opts, Metrics& metrics);
  ~Batcher();  // finishes what is queued, then stops

  void add_model(const std::string& name, const Embedder* model);

  // A request on its way to the queue. Made when the request arrives, before it is parsed
  // (it may first wait for a prepare slot): any lane may get its items. items() names them once
  // parsed, per modality, so only their lane waits for them. Withdrawn once they are submitted
  // (delivered()), or when the object goes away (the request failed first).
  class Announcement {
   public:
    explicit Announcement(Batcher* b);
    ~Announcement() { delivered(); }
    void items(std::string model, std::vector<Modality> items);
    void delivered();
    Announcement(const Announcement&) = delete;
    Announcement& operator=(const Announcement&) = delete;

   private:
    Batcher* batcher_;
    std::string model_;
    std::vector<Modality> items_;
    enum class Stage { kArriving, kPreparing, kDone } stage_ = Stage::kArriving;
  };

  // Queues a request's prepared items, all or none: false when the queue is full.
  bool submit(const std::string& model, const std::shared_ptr<Job>& job, std::vector<PreparedInput> items);

 private:
  struct Item {
    std::shared_ptr<Job> job;
    size_t index;
    PreparedInput data;
    Clock::time_point at;
  };
  struct Lane {
    std::string model;
    const Embedder* embedder;
    Modality modality;
    std::deque<Item> items;
    int incoming = 0;  // announced, still being prepared
    bool alone = false;  // its last batch had one item: nobody came while it waited
  };
  void announce(const std::string& model, const std::vector<Modality>& items, int sign);
  void arriving(int sign);
  void run();
  std::vector<Item> take_batch(Lane& lane);
  void drop_cancelled(Lane& lane);
  void execute(const Lane& lane, std::vector<Item>& batch);
  void update_depth(const Lane& lane);

  BatcherOptions opts_;
  Metrics& metrics_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t queued_ = 0;
  int arriving_ = 0;                // requests not yet parsed: their items' lanes are not known yet
  Clock::time_point idle_since_;    // when the last batch finished
  Clock::time_point last_arrival_;  // when a request last arrived, was parsed or was queued
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace cc
