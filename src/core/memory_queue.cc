#include "core/memory_queue.h"

#include <thread>
#include <utility>
#include <vector>

#include "core/status.h"

namespace otlpd {

MemoryQueue::MemoryQueue(Sizer sizer, int64_t capacity, bool wait_for_result,
                         bool block_on_overflow, absl::Duration max_block)
    : sizer_(sizer),
      capacity_(capacity),
      wait_for_result_(wait_for_result),
      block_on_overflow_(block_on_overflow),
      max_block_(max_block) {
  if (block_on_overflow_) {
    waiter_timer_ = std::thread([this] {
      std::vector<Completion> expired;
      absl::MutexLock lock(&mu_);
      while (!closed_) {
        const absl::Time now = absl::Now();
        absl::Time next = absl::InfiniteFuture();
        for (auto it = waiters_.begin(); it != waiters_.end();) {
          if (it->until <= now) {
            expired.push_back(std::move(it->done));
            it = waiters_.erase(it);
          } else {
            next = std::min(next, it->until);
            ++it;
          }
        }
        if (!expired.empty()) {
          mu_.Unlock();
          for (Completion& done : expired) std::move(done)(QueueFullError());
          expired.clear();
          mu_.Lock();
          continue;
        }
        timer_cv_.WaitWithDeadline(&mu_, next);
      }
    });
  }
}

MemoryQueue::~MemoryQueue() {
  Close();
  if (waiter_timer_.joinable()) waiter_timer_.join();
  // Callers waiting for a result never leave without an answer.
  std::vector<Completion> orphans;
  {
    absl::MutexLock lock(&mu_);
    for (Entry& e : pending_) {
      if (e.done) orphans.push_back(std::move(e.done));
    }
    for (auto& [id, e] : handed_out_) {
      if (e.done) orphans.push_back(std::move(e.done));
    }
  }
  for (Completion& done : orphans) {
    std::move(done)(absl::UnavailableError("exporter shut down before the data was sent"));
  }
}

bool MemoryQueue::HasRoomLocked(const Telemetry& data) const {
  if (sizes_.requests == 0) return true;
  return sizes_.In(sizer_) + SizeOf(sizer_, data) <= capacity_;
}

Completion MemoryQueue::AddLocked(TelemetryPtr data, Completion done) {
  sizes_.Add(*data, +1);
  Entry e;
  e.request.id = next_id_++;
  e.request.enqueued = absl::Now();
  e.request.data = std::move(data);
  Completion stored;
  if (wait_for_result_) {
    e.done = std::move(done);
  } else {
    stored = std::move(done);
  }
  pending_.push_back(std::move(e));
  return stored;  // to run now (outside the lock), or empty
}

void MemoryQueue::Offer(TelemetryPtr data, Completion done) {
  Completion now;
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      refused = QueueClosedError();
    } else if (waiters_.empty() && HasRoomLocked(*data)) {
      now = AddLocked(std::move(data), std::move(done));
    } else if (block_on_overflow_) {
      waiters_.push_back(Waiter{std::move(data), std::move(done), absl::Now() + max_block_});
      timer_cv_.Signal();
      return;
    } else {
      refused = QueueFullError();
    }
  }
  if (!refused.ok()) {
    std::move(done)(std::move(refused));
  } else if (now) {
    std::move(now)(absl::OkStatus());
  }
}

std::optional<QueuedRequest> MemoryQueue::Read(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(this, &MemoryQueue::HasEntryOrClosed), deadline);
  if (pending_.empty()) return std::nullopt;
  Entry e = std::move(pending_.front());
  pending_.pop_front();
  QueuedRequest out = e.request;
  handed_out_.emplace(out.id, std::move(e));
  return out;
}

std::vector<Completion> MemoryQueue::AdmitWaitersLocked() {
  std::vector<Completion> admitted;
  while (!waiters_.empty() && !closed_ && HasRoomLocked(*waiters_.front().data)) {
    Waiter w = std::move(waiters_.front());
    waiters_.pop_front();
    Completion c = AddLocked(std::move(w.data), std::move(w.done));
    if (c) admitted.push_back(std::move(c));
  }
  return admitted;
}

void MemoryQueue::Commit(uint64_t id, const absl::Status& outcome) {
  Completion caller;
  std::vector<Completion> admitted;
  {
    absl::MutexLock lock(&mu_);
    auto it = handed_out_.find(id);
    if (it == handed_out_.end()) return;
    sizes_.Add(*it->second.request.data, -1);
    caller = std::move(it->second.done);
    handed_out_.erase(it);
    admitted = AdmitWaitersLocked();
  }
  if (caller) std::move(caller)(outcome);
  for (Completion& done : admitted) std::move(done)(absl::OkStatus());
}

void MemoryQueue::Close() {
  std::vector<Completion> refused;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    for (Waiter& w : waiters_) refused.push_back(std::move(w.done));
    waiters_.clear();
    timer_cv_.SignalAll();
  }
  for (Completion& done : refused) std::move(done)(QueueClosedError());
}

QueueSizes MemoryQueue::sizes() const {
  absl::MutexLock lock(&mu_);
  return sizes_;
}

absl::Duration MemoryQueue::oldest_age() const {
  absl::MutexLock lock(&mu_);
  absl::Time oldest = absl::InfiniteFuture();
  if (!pending_.empty()) oldest = pending_.front().request.enqueued;
  for (const auto& [id, e] : handed_out_) oldest = std::min(oldest, e.request.enqueued);
  return oldest == absl::InfiniteFuture() ? absl::ZeroDuration() : absl::Now() - oldest;
}

}  // namespace otlpd
