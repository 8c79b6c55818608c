#include "server/batcher.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace cc {

void Job::fill(size_t index, const float* v, int dim) {
  std::function<void()> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;  // failed already: the rest does not count
    if (!std::all_of(v, v + dim, [](float x) { return std::isfinite(x); })) {
      error = "the model gave a non-finite vector for item " + std::to_string(index);
      cancelled_ = true;
    } else {
      vectors[index].assign(v, v + dim);
      if (--remaining_ > 0) return;
    }
    finished_ = true;
    done = std::move(on_done_);
  }
  if (done) done();
}

void Job::fail(const std::string& message) {
  std::function<void()> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    error = message;
    cancelled_ = true;  // its items in other lanes are dropped
    finished_ = true;
    done = std::move(on_done_);
  }
  if (done) done();
}

Batcher::Batcher(const BatcherOptions& opts, Metrics& metrics) : opts_(opts), metrics_(metrics) {
  worker_ = std::thread([this] { run(); });
}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void Batcher::add_model(const std::string& name, const Embedder* model) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Modality m : {Modality::kText, Modality::kImage, Modality::kAudio}) {
    lanes_.push_back(std::make_unique<Lane>(Lane{name, model, m, {}}));
    update_depth(*lanes_.back());
  }
}

Batcher::Announcement::Announcement(Batcher* b) : batcher_(b) { batcher_->arriving(+1); }

void Batcher::Announcement::items(std::string model, std::vector<Modality> items) {
  if (stage_ != Stage::kArriving) return;
  model_ = std::move(model);
  items_ = std::move(items);
  batcher_->announce(model_, items_, +1);  // before the arrival is withdrawn: no moment with neither
  batcher_->arriving(-1);
  stage_ = Stage::kPreparing;
}

void Batcher::Announcement::delivered() {
  if (stage_ == Stage::kArriving) batcher_->arriving(-1);
  if (stage_ == Stage::kPreparing) batcher_->announce(model_, items_, -1);
  stage_ = Stage::kDone;
}

void Batcher::arriving(int sign) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    arriving_ += sign;
    last_arrival_ = Clock::now();
  }
  cv_.notify_all();
}

void Batcher::announce(const std::string& model, const std::vector<Modality>& items, int sign) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Modality m : items)
      for (auto& lane : lanes_)
        if (lane->model == model && lane->modality == m) lane->incoming += sign;
    last_arrival_ = Clock::now();
  }
  cv_.notify_all();
}

void Batcher::update_depth(const Lane& lane) {
  metrics_.set("clipclap_queue_depth", {{"model", lane.model}, {"modality", modality_name(lane.modality)}},
               static_cast<double>(lane.items.size()));
}

void Batcher::drop_cancelled(Lane& lane) {
  const size_t before = lane.items.size();
  lane.items.erase(std::remove_if(lane.items.begin(), lane.items.end(), [](const Item& it) { return it.job->cancelled(); }),
                   lane.items.end());
  queued_ -= before - lane.items.size();
  update_depth(lane);
}

bool Batcher::submit(const std::string& model, const std::shared_ptr<Job>& job, std::vector<PreparedInput> items) {
  std::lock_guard<std::mutex> lock(mu_);
  if (queued_ + items.size() > opts_.max_queue)  // places held by timed-out or abandoned requests count as free
    for (auto& lane : lanes_) drop_cancelled(*lane);
  if (queued_ + items.size() > opts_.max_queue) return false;
  const auto now = Clock::now();
  for (size_t i = 0; i < items.size(); ++i) {
    for (auto& lane : lanes_) {
      if (lane->model != model || lane->modality != items[i].modality) continue;
      lane->items.push_back({job, i, std::move(items[i]), now});
      update_depth(*lane);
      break;
    }
  }
  queued_ += items.size();
  cv_.notify_all();
  return true;
}

std::vector<Batcher::Item> Batcher::take_batch(Lane& lane) {
  drop_cancelled(lane);  // timed out, or their client left
  // Round-robin over the requests in arrival order: their first items, then their second...
  std::map<Job*, int> order;
  std::vector<std::vector<size_t>> per_job;
  for (size_t i = 0; i < lane.items.size(); ++i) {
    auto [it, fresh] = order.emplace(lane.items[i].job.get(), static_cast<int>(per_job.size()));
    if (fresh) per_job.emplace_back();
    per_job[it->second].push_back(i);
  }
  std::vector<size_t> chosen;
  size_t longest = 0;  // text: tokens of the longest chosen
  const bool text = lane.modality == Modality::kText;
  for (size_t round = 0; chosen.size() < static_cast<size_t>(opts_.max_batch); ++round) {
    bool any = false;
    for (const auto& positions : per_job) {
      if (round < positions.size() && chosen.size() < static_cast<size_t>(opts_.max_batch)) {
        any = true;
        if (text) {  // over the token budget: it waits for the next batch
          const size_t tokens = std::max(longest, lane.items[positions[round]].data.ids.size());
          if (!chosen.empty() && tokens * (chosen.size() + 1) > static_cast<size_t>(opts_.max_batch_tokens)) continue;
          longest = tokens;
        }
        chosen.push_back(positions[round]);
      }
    }
    if (!any) break;
  }
  std::sort(chosen.begin(), chosen.end());
  std::vector<Item> batch;
  for (auto it = chosen.rbegin(); it != chosen.rend(); ++it) {
    batch.push_back(std::move(lane.items[*it]));
    lane.items.erase(lane.items.begin() + static_cast<std::ptrdiff_t>(*it));
  }
  std::reverse(batch.begin(), batch.end());
  queued_ -= batch.size();
  update_depth(lane);
  return batch;
}

void Batcher::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // A full lane goes first; otherwise the lane that is due first (or at once when stopping).
    // A lane waits max_wait for company, counted from when this thread was last free at the
    // latest: items that queued behind a running batch waited for it, not for company. Without
    // that, a closed loop of clients splits into two groups whose half batches alternate
    // (measured with 8 clients and --max-batch 8: batches of 5 and 3, 4 and 4, 17.7 images/s of
    // inference time instead of full batches' 20.5). Beyond that it waits up to incoming_wait
    // for its own items being prepared, and for requests not yet parsed (whose lane is not
    // known) only while they keep moving, so that other lanes' work does not hold it up long.
    Lane* full = nullptr;
    Lane* next = nullptr;
    Clock::time_point next_due{};
    for (auto& lane : lanes_) {
      if (lane->items.empty()) continue;
      if (lane->items.size() >= static_cast<size_t>(opts_.max_batch) && (!full || lane->items.front().at < full->items.front().at))
        full = lane.get();
      const Clock::time_point since = std::max(lane->items.front().at, idle_since_);
      auto due = since + opts_.max_wait;
      // A lone client (its lane's last batch held one item, and no request is arriving or being
      // prepared) does not wait for companions that are not coming: at concurrency 1 the wait
      // was most of a short text's time. The first batch of more than one item ends this.
      if (lane->alone && lane->incoming == 0 && arriving_ == 0) due = since;
      if (lane->incoming > 0) due += opts_.incoming_wait;
      else if (arriving_ > 0) due = std::max(due, std::min(last_arrival_ + opts_.max_wait, due + opts_.incoming_wait));
      if (!next || due < next_due) next = lane.get(), next_due = due;
    }
    if (!next) {
      if (stop_) return;
      cv_.wait(lock);
      continue;
    }
    Lane* lane = full;
    if (!lane) {
      if (!stop_ && Clock::now() < next_due) {
        cv_.wait_until(lock, next_due);
        continue;
      }
      lane = next;
    }
    std::vector<Item> batch = take_batch(*lane);
    if (batch.empty()) continue;
    lane->alone = batch.size() == 1;
    lock.unlock();
    execute(*lane, batch);
    lock.lock();
    idle_since_ = Clock::now();
  }
}

void Batcher::execute(const Lane& lane, std::vector<Item>& batch) {
  const auto start = Clock::now();
  const Embedder& model = *lane.embedder;
  Result<Embeddings> e = Embeddings{};
  if (lane.modality == Modality::kText) {
    std::vector<std::vector<int32_t>> ids;
    for (auto& it : batch) ids.push_back(std::move(it.data.ids));
    e = model.embed_token_ids(ids);
  } else if (lane.modality == Modality::kImage) {
    std::vector<float> pixels;
    for (auto& it : batch) pixels.insert(pixels.end(), it.data.pixels.begin(), it.data.pixels.end());
    e = model.embed_pixel_values(pixels, static_cast<int>(batch.size()));
  } else {
    std::vector<ClipFeatures> clips;
    for (auto& it : batch) clips.push_back(std::move(it.data.audio));
    e = model.embed_audio_features(clips);
  }
  const Metrics::Labels labels = {{"model", lane.model}, {"modality", modality_name(lane.modality)}};
  metrics_.observe("clipclap_batch_size", labels, static_cast<double>(batch.size()));
  metrics_.observe("clipclap_inference_seconds", labels, std::chrono::duration<double>(Clock::now() - start).count());
  if (!e.ok()) {
    for (auto& it : batch) it.job->fail(e.error().message);
    return;
  }
  metrics_.add("clipclap_items_embedded_total", labels, static_cast<double>(batch.size()));
  for (size_t k = 0; k < batch.size(); ++k) batch[k].job->fill(batch[k].index, e->row(static_cast<int64_t>(k)), e->dim);
}

}  // namespace cc
