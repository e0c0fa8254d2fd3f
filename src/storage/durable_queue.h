#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/sending_queue.h"
#include "storage/segment_log.h"

namespace otlpd::storage {

// What a queue found on disk, readable after the queue is gone (self-metrics hold it).
struct DurableQueueCounters {
  std::atomic<uint64_t> recovered_requests{0};  // found at Start
  std::atomic<uint64_t> damaged_records{0};     // unreadable on disk: skipped
  // Dropped because the queue was full, by the when_full policy that dropped them.
  std::atomic<uint64_t> dropped_oldest_items{0};
  std::atomic<uint64_t> dropped_oldest_requests{0};
  std::atomic<uint64_t> dropped_newest_items{0};
  std::atomic<uint64_t> dropped_newest_requests{0};
};

// The order in which queued requests are handed out (edge_sync's drain_order).
enum class ReadOrder : uint8_t {
  kOldestFirst,
  kNewestFirst,
  // Requests marked priority (DurableQueueOptions::priority) first, each class oldest first.
  kPriority,
};

// What Offer does when the request does not fit (edge_sync's when_full).
enum class WhenFull : uint8_t {
  kRefuse,      // a retryable error: the caller keeps the data and tries again later
  kDropOldest,  // the oldest requests not being sent are dropped (counted) to make room
  kDropNewest,  // the offered request is dropped (counted); the Offer completes OK
};

struct DurableQueueOptions {
  std::string directory;
  Sizer sizer = Sizer::kRequests;
  int64_t capacity = 1000;  // in sizer units
  // kFsync: an Offer completes once its request is fdatasync'd (group commit); kBatch: once
  // written (survives kill -9, not a power cut), synced every group_commit_interval.
  Durability durability = Durability::kFsync;
  absl::Duration group_commit_interval = absl::Milliseconds(2);
  // Small segments: one is deleted as soon as everything in it is sent.
  uint64_t segment_bytes = uint64_t{16} << 20;
  // How often the position of the oldest request not yet sent is persisted. A crash sends
  // again what was sent since (at-least-once; the count is in sent_again()).
  absl::Duration cursor_interval = absl::Milliseconds(100);
  // Appends that would take the log's files past this are refused (0: no limit). Disk use
  // can exceed `capacity` (in bytes) when requests are sent out of order: a segment goes
  // only once everything in it is sent.
  uint64_t max_disk_bytes = 0;
  ReadOrder order = ReadOrder::kOldestFirst;
  WhenFull when_full = WhenFull::kRefuse;
  // Whether a request belongs to the priority class (kept on disk with it); none if empty.
  std::function<bool(const Telemetry&)> priority;
  // when_full kRefuse: an Offer that does not fit waits up to this long for room (in order
  // with other waiting offers) before it is refused; 0 refuses at once. sending_queue's
  // block_on_overflow sets it to the exporter's timeout.
  absl::Duration max_block = absl::ZeroDuration();
  // With a backlog, every other Read takes the newest request enqueued within this long,
  // so that live data keeps flowing while old data drains (0: strictly `order`).
  absl::Duration live_window = absl::ZeroDuration();
};

// An exporter's sending queue kept in a crash-safe SegmentLog (the storage extension
// file_storage provides it): an Offer completes once the request is in the log (synced per
// durability); Commit removes it; a restart finds everything not committed, in order.
// Shutdown (Close, destruction) keeps what is queued. A full queue refuses retryably (a
// request larger than the whole capacity is let into an empty queue, so it is never refused
// forever). Corrupt records found at open or read are skipped, counted in the log's health
// (copied to quarantine/), and never stop the queue.
//
// Requests are handed out in `order`; the position persisted is that of the oldest request
// not yet sent, so after a crash what was sent out of order after it is sent again.
//
// Record: [version u8 = 2][signal u8][flags u8][items u32][enqueued unix ns i64][OTLP
// request]; flags bit 0: priority. Version 1 records (no flags byte) are still read.
// Only this metadata is kept in memory; requests are read back from the log when handed out.
class DurableQueue final : public SendingQueue {
 public:
  static absl::StatusOr<std::unique_ptr<DurableQueue>> Open(DurableQueueOptions options);
  ~DurableQueue() override;

  absl::Status Start() override;
  void Offer(TelemetryPtr data, Completion done) override;
  std::optional<QueuedRequest> Read(absl::Time deadline) override;
  void Commit(uint64_t id, const absl::Status& outcome) override;
  void Close() override;
  bool durable() const override { return true; }
  QueueSizes sizes() const override;
  int64_t capacity() const override { return options_.capacity; }
  Sizer sizer() const override { return options_.sizer; }
  absl::Duration oldest_age() const override;

  // Requests found at Start (some may have been sent just before a crash: the position of
  // what is sent is persisted every cursor_interval, so those are sent again).
  uint64_t recovered() const { return counters_->recovered_requests.load(); }
  // Records that could not be read back (damaged on disk): skipped and counted.
  uint64_t damaged() const { return counters_->damaged_records.load(); }
  uint64_t damaged_records() const override { return damaged(); }
  std::shared_ptr<const DurableQueueCounters> counters() const { return counters_; }
  LogStats log_stats() const { return log_->stats(); }

 private:
  enum class State : uint8_t { kQueued, kHandedOut, kDone };
  struct Entry {
    uint64_t id;
    LogPosition position;
    LogPosition next;
    int64_t items;
    int64_t bytes;
    absl::Time enqueued;
    bool priority = false;
    State state = State::kQueued;
  };

  explicit DurableQueue(DurableQueueOptions options) : options_(std::move(options)) {}
  // Drops the done entries at the front; returns where the oldest unsent request starts.
  LogPosition PopDoneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PersistCursor(bool force);
  bool ReadableOrClosed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !unread_[0].empty() || !unread_[1].empty() || closed_;
  }
  Entry* Find(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddEntryLocked(const Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The id of the next request to hand out (there is one).
  uint64_t PickLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the oldest unread requests until `need` more sizer units fit (kDropOldest).
  void DropOldestLocked(int64_t need) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool FitsLocked(int64_t size) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes an admitted request (reserved_ counts it already) to the log.
  void Append(TelemetryPtr data, Completion done);
  // Lets in the waiting offers that fit now.
  void AdmitWaiters() ABSL_LOCKS_EXCLUDED(mu_);
  void WaiterTimer();

  struct Waiter {
    TelemetryPtr data;
    Completion done;
    absl::Time deadline;
  };

  const DurableQueueOptions options_;

  mutable absl::Mutex mu_;
  std::deque<Entry> entries_ ABSL_GUARDED_BY(mu_);  // in log order; ids consecutive
  // Ids of the entries not handed out yet: [0] normal, [1] priority.
  absl::btree_set<uint64_t> unread_[2] ABSL_GUARDED_BY(mu_);
  uint64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  QueueSizes sizes_ ABSL_GUARDED_BY(mu_);        // queued and handed out
  QueueSizes reserved_ ABSL_GUARDED_BY(mu_);     // offered, not yet in the log
  LogPosition sent_until_ ABSL_GUARDED_BY(mu_);  // everything before is sent
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Waiter> waiters_ ABSL_GUARDED_BY(mu_);  // offers waiting for room (max_block)
  absl::CondVar waiter_cv_;
  bool stop_timer_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_;
  const std::shared_ptr<DurableQueueCounters> counters_ = std::make_shared<DurableQueueCounters>();

  absl::Mutex cursor_mu_;  // one cursor write at a time
  LogPosition persisted_ ABSL_GUARDED_BY(cursor_mu_);
  absl::Time persisted_at_ ABSL_GUARDED_BY(cursor_mu_) = absl::InfinitePast();

  // Declared last: destroyed first, so that its final completions find the queue intact.
  std::unique_ptr<SegmentLog> log_;
};

}  // namespace otlpd::storage
