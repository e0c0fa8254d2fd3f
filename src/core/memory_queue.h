#pragma once

#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/sending_queue.h"

namespace otlpd {

// otelcol's in-memory sending queue: bounded by `capacity` in `sizer` units. Offer
// completes at once (or, with wait_for_result, when the request is committed); a full
// queue refuses retryably, or with block_on_overflow holds the offer until there is room or
// `max_block` has passed. A request larger than the whole capacity is let in when the queue
// is empty, so that it is never refused forever. What is still queued at shutdown is lost
// with the process (it is not durable).
class MemoryQueue final : public SendingQueue {
 public:
  MemoryQueue(Sizer sizer, int64_t capacity, bool wait_for_result, bool block_on_overflow,
              absl::Duration max_block);
  ~MemoryQueue() override;

  absl::Status Start() override { return absl::OkStatus(); }
  void Offer(TelemetryPtr data, Completion done) override;
  std::optional<QueuedRequest> Read(absl::Time deadline) override;
  void Commit(uint64_t id, const absl::Status& outcome) override;
  void Close() override;
  bool durable() const override { return false; }
  QueueSizes sizes() const override;
  int64_t capacity() const override { return capacity_; }
  Sizer sizer() const override { return sizer_; }
  absl::Duration oldest_age() const override;

 private:
  struct Entry {
    QueuedRequest request;
    Completion done;  // wait_for_result: the caller's, run at Commit
  };
  struct Waiter {
    TelemetryPtr data;
    Completion done;
    absl::Time until;
  };
  bool HasRoomLocked(const Telemetry& data) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves waiting offers into the queue while they fit; returns their completions to run.
  std::vector<Completion> AdmitWaitersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Completion AddLocked(TelemetryPtr data, Completion done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasEntryOrClosed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !pending_.empty() || closed_;
  }

  const Sizer sizer_;
  const int64_t capacity_;
  const bool wait_for_result_;
  const bool block_on_overflow_;
  const absl::Duration max_block_;

  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<Entry> pending_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Entry> handed_out_ ABSL_GUARDED_BY(mu_);
  std::deque<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  QueueSizes sizes_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread waiter_timer_;  // refuses waiters whose time ran out (block_on_overflow)
  absl::CondVar timer_cv_;
};

}  // namespace otlpd
