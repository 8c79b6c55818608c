#include "core/memory_budget.h"

namespace cc {

namespace {

std::string megabytes(size_t bytes) {
  const double mb = static_cast<double>(bytes) / (1 << 20);
  char buf[32];
  std::snprintf(buf, sizeof buf, mb < 10 ? "%.1f MB" : "%.0f MB", mb);
  return buf;
}

}  // namespace

bool MemoryBudget::try_add(size_t bytes) {
  size_t used = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ - used) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  size_t peak = peak_.load(std::memory_order_relaxed);
  while (used + bytes > peak && !peak_.compare_exchange_weak(peak, used + bytes, std::memory_order_relaxed)) {
  }
  return true;
}

MemoryBudget::Hold& MemoryBudget::Hold::operator=(Hold&& o) noexcept {
  if (this != &o) {
    release();
    budget_ = o.budget_;
    bytes_ = o.bytes_;
    o.bytes_ = 0;
  }
  return *this;
}

Status MemoryBudget::Hold::resize(size_t bytes, const std::string& what) {
  if (budget_ && bytes > bytes_) {
    const size_t more = bytes - bytes_;
    if (bytes > budget_->limit_)
      return error(what + " needs " + megabytes(bytes) + ", more than this server's memory budget of " +
                       megabytes(budget_->limit_) + " (--max-inflight-mb)",
                   ErrorKind::kTooLarge);
    if (!budget_->try_add(more))
      return error(what + " needs " + megabytes(bytes) + " and the server's memory budget is taken by other requests; retry shortly",
                   ErrorKind::kOverloaded);
  } else if (budget_ && bytes < bytes_) {
    budget_->give_back(bytes_ - bytes);
  }
  bytes_ = bytes;
  return Ok{};
}

void MemoryBudget::Hold::release() {
  if (budget_ && bytes_) budget_->give_back(bytes_);
  bytes_ = 0;
}

Result<MemoryBudget::Hold> MemoryBudget::take(MemoryBudget* budget, size_t bytes, const std::string& what) {
  Hold h(budget);
  CC_CHECK(h.resize(bytes, what));
  return h;
}

}  // namespace cc
