#include "storage/durable_queue.h"

#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/otlp_wire.h"
#include "spdlog/spdlog.h"

namespace otlpd::storage {

namespace {

constexpr char kReader[] = "sent";
constexpr uint8_t kVersion = 2;
constexpr size_t kHeaderBytes = 1 + 1 + 1 + 4 + 8;
constexpr size_t kV1HeaderBytes = 1 + 1 + 4 + 8;
constexpr uint8_t kPriorityFlag = 1;

std::string Header(Signal signal, bool priority, uint32_t items, int64_t enqueued_ns) {
  std::string h(kHeaderBytes, '\0');
  h[0] = static_cast<char>(kVersion);
  h[1] = static_cast<char>(signal);
  h[2] = static_cast<char>(priority ? kPriorityFlag : 0);
  std::memcpy(h.data() + 3, &items, 4);
  std::memcpy(h.data() + 7, &enqueued_ns, 8);
  return h;
}

struct Parsed {
  Signal signal;
  bool priority = false;
  uint32_t items;
  int64_t enqueued_ns;
  size_t header_bytes;
};

bool ParseHeader(std::string_view record, Parsed* out) {
  if (record.size() < 2 || static_cast<uint8_t>(record[1]) > static_cast<uint8_t>(Signal::kLogs)) {
    return false;
  }
  const uint8_t version = static_cast<uint8_t>(record[0]);
  size_t at = 2;
  if (version == 1) {
    out->header_bytes = kV1HeaderBytes;
  } else if (version == kVersion) {
    out->header_bytes = kHeaderBytes;
  } else {
    return false;
  }
  if (record.size() < out->header_bytes) return false;
  out->signal = static_cast<Signal>(record[1]);
  if (version == kVersion) out->priority = (static_cast<uint8_t>(record[at++]) & kPriorityFlag);
  std::memcpy(&out->items, record.data() + at, 4);
  std::memcpy(&out->enqueued_ns, record.data() + at + 4, 8);
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DurableQueue>> DurableQueue::Open(DurableQueueOptions options) {
  SegmentLogOptions lo;
  lo.segment_bytes = options.segment_bytes;
  lo.durability = options.durability;
  lo.group_commit_interval = options.group_commit_interval;
  lo.max_bytes = options.max_disk_bytes;
  absl::StatusOr<std::unique_ptr<SegmentLog>> log = SegmentLog::Open(options.directory, lo);
  if (!log.ok()) return log.status();
  std::unique_ptr<DurableQueue> q(new DurableQueue(std::move(options)));
  q->log_ = *std::move(log);
  return q;
}

DurableQueue::~DurableQueue() {
  Close();
  log_.reset();  // completes the appends in flight before the rest goes
}

absl::Status DurableQueue::Start() {
  absl::StatusOr<LogPosition> cursor = log_->RegisterReader(kReader);
  if (!cursor.ok()) return cursor.status();
  // Only the metadata of what is queued is kept; the requests stay on disk.
  LogPosition from = *cursor;
  std::vector<LogRecord> batch;
  uint64_t damaged = 0;
  absl::MutexLock lock(&mu_);
  sent_until_ = from;
  while (true) {
    batch.clear();
    LogPosition next;
    absl::Status s = log_->Read(from, 4096, size_t{64} << 20, &batch, &next);
    if (!s.ok()) return s;
    if (batch.empty()) break;
    for (const LogRecord& r : batch) {
      Parsed p;
      if (!ParseHeader(r.payload, &p)) {
        ++damaged;  // a valid record of something else: not ours to send
        continue;
      }
      AddEntryLocked(Entry{next_id_++, r.position, r.next, p.items,
                           static_cast<int64_t>(r.payload.size() - p.header_bytes),
                           absl::FromUnixNanos(p.enqueued_ns), p.priority});
    }
    from = next;
  }
  damaged += log_->stats().health.quarantined_records;
  counters_->recovered_requests = entries_.size();
  if (options_.max_block > absl::ZeroDuration()) timer_ = std::thread([this] { WaiterTimer(); });
  counters_->damaged_records += damaged;
  if (!entries_.empty() || damaged > 0) {
    spdlog::info("sending queue {}: {} requests ({} items) recovered; {} damaged records skipped",
                 options_.directory, entries_.size(), sizes_.items, damaged);
  }
  return absl::OkStatus();
}

void DurableQueue::AddEntryLocked(const Entry& e) {
  entries_.push_back(e);
  sizes_.Add(e.items, e.bytes, +1);
  unread_[e.priority ? 1 : 0].insert(e.id);
}

DurableQueue::Entry* DurableQueue::Find(uint64_t id) {
  if (entries_.empty() || id < entries_.front().id || id - entries_.front().id >= entries_.size()) {
    return nullptr;
  }
  return &entries_[id - entries_.front().id];
}

bool DurableQueue::FitsLocked(int64_t size) const {
  const bool empty = sizes_.requests + reserved_.requests == 0;
  return empty ||
         sizes_.In(options_.sizer) + reserved_.In(options_.sizer) + size <= options_.capacity;
}

void DurableQueue::DropOldestLocked(int64_t need) {
  // Oldest first whatever the read order: that frees the log's oldest segments.
  for (Entry& e : entries_) {
    if (FitsLocked(need)) break;
    if (e.state != State::kQueued) continue;
    unread_[e.priority ? 1 : 0].erase(e.id);
    e.state = State::kDone;
    sizes_.Add(e.items, e.bytes, -1);
    counters_->dropped_oldest_items += static_cast<uint64_t>(e.items);
    ++counters_->dropped_oldest_requests;
  }
  PopDoneLocked();
}

void DurableQueue::Offer(TelemetryPtr data, Completion done) {
  const int64_t items = static_cast<int64_t>(data->ItemCount());
  const int64_t bytes = static_cast<int64_t>(data->ByteSize());
  bool dropped_old = false;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      std::move(done)(QueueClosedError());
      return;
    }
    const int64_t size = SizeOf(options_.sizer, *data);
    if (!FitsLocked(size) && options_.when_full == WhenFull::kDropOldest) {
      DropOldestLocked(size);
      dropped_old = true;
    }
    const bool blocking =
        options_.when_full == WhenFull::kRefuse && options_.max_block > absl::ZeroDuration();
    // Offers that wait for room keep their order: a newcomer queues behind them.
    if (!FitsLocked(size) || (blocking && !waiters_.empty())) {
      if (options_.when_full == WhenFull::kDropNewest) {
        counters_->dropped_newest_items += static_cast<uint64_t>(items);
        ++counters_->dropped_newest_requests;
        std::move(done)(absl::OkStatus());
        return;
      }
      if (blocking) {
        waiters_.push_back(
            Waiter{std::move(data), std::move(done), absl::Now() + options_.max_block});
        waiter_cv_.Signal();
        return;
      }
      std::move(done)(QueueFullError());
      return;
    }
    reserved_.Add(items, bytes, +1);
  }
  // Dropped requests free their segments once the cursor moves past them.
  if (dropped_old) PersistCursor(/*force=*/true);
  Append(std::move(data), std::move(done));
}

void DurableQueue::Append(TelemetryPtr data, Completion done) {
  const int64_t items = static_cast<int64_t>(data->ItemCount());
  const int64_t bytes = static_cast<int64_t>(data->ByteSize());
  const bool priority = options_.priority && options_.priority(*data);
  const absl::Time enqueued = absl::Now();
  absl::Cord record(
      Header(data->signal(), priority, static_cast<uint32_t>(items), absl::ToUnixNanos(enqueued)));
  record.Append(data->wire());
  // Completions run in log order, so entries_ stays in log order.
  log_->Append(
      {std::move(record)}, [this, items, bytes, enqueued, priority, done = std::move(done)](
                               absl::Status s, LogPosition first, LogPosition end) mutable {
        {
          absl::MutexLock lock(&mu_);
          reserved_.Add(items, bytes, -1);
          if (s.ok()) {
            AddEntryLocked(Entry{next_id_++, first, end, items, bytes, enqueued, priority});
          }
        }
        if (!s.ok()) AdmitWaiters();
        if (s.code() == absl::StatusCode::kResourceExhausted &&
            options_.when_full == WhenFull::kDropNewest) {
          // The disk (or max_disk_bytes) is full: dropped like any newest request.
          counters_->dropped_newest_items += static_cast<uint64_t>(items);
          ++counters_->dropped_newest_requests;
          std::move(done)(absl::OkStatus());
          return;
        }
        // A full disk is RESOURCE_EXHAUSTED: as retryable as a full queue.
        std::move(done)(
            s.ok() || s.code() != absl::StatusCode::kResourceExhausted ? s : QueueFullError());
      });
}

void DurableQueue::AdmitWaiters() {
  std::vector<Waiter> admitted;
  {
    absl::MutexLock lock(&mu_);
    while (!waiters_.empty() && !closed_ &&
           FitsLocked(SizeOf(options_.sizer, *waiters_.front().data))) {
      Waiter& w = waiters_.front();
      reserved_.Add(static_cast<int64_t>(w.data->ItemCount()),
                    static_cast<int64_t>(w.data->ByteSize()), +1);
      admitted.push_back(std::move(w));
      waiters_.pop_front();
    }
  }
  for (Waiter& w : admitted) Append(std::move(w.data), std::move(w.done));
}

// Refuses the offers whose max_block ran out (only runs with max_block > 0).
void DurableQueue::WaiterTimer() {
  while (true) {
    std::vector<Completion> expired;
    {
      absl::MutexLock lock(&mu_);
      if (stop_timer_) return;
      const absl::Time now = absl::Now();
      while (!waiters_.empty() && waiters_.front().deadline <= now) {
        expired.push_back(std::move(waiters_.front().done));
        waiters_.pop_front();
      }
      if (expired.empty()) {
        waiter_cv_.WaitWithDeadline(
            &mu_, waiters_.empty() ? absl::InfiniteFuture() : waiters_.front().deadline);
        continue;
      }
    }
    for (Completion& done : expired) std::move(done)(QueueFullError());
  }
}

uint64_t DurableQueue::PickLocked() {
  absl::btree_set<uint64_t>& normal = unread_[0];
  absl::btree_set<uint64_t>& prio = unread_[1];
  auto newest = [&]() -> uint64_t {
    uint64_t id = 0;
    if (!normal.empty()) id = *normal.rbegin();
    if (!prio.empty()) id = std::max(id, *prio.rbegin());
    return id;
  };
  ++reads_;
  if (options_.order != ReadOrder::kNewestFirst && options_.live_window > absl::ZeroDuration() &&
      reads_ % 2 == 0) {
    const uint64_t id = newest();
    if (absl::Now() - Find(id)->enqueued <= options_.live_window) return id;
  }
  switch (options_.order) {
    case ReadOrder::kNewestFirst:
      return newest();
    case ReadOrder::kPriority:
      if (!prio.empty()) return *prio.begin();
      return *normal.begin();
    case ReadOrder::kOldestFirst:
      break;
  }
  if (normal.empty()) return *prio.begin();
  if (prio.empty()) return *normal.begin();
  return std::min(*normal.begin(), *prio.begin());
}

std::optional<QueuedRequest> DurableQueue::Read(absl::Time deadline) {
  while (true) {
    Entry e{};
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(this, &DurableQueue::ReadableOrClosed), deadline);
      if (unread_[0].empty() && unread_[1].empty()) return std::nullopt;  // deadline, or closed
      Entry& next = *Find(PickLocked());
      unread_[next.priority ? 1 : 0].erase(next.id);
      next.state = State::kHandedOut;
      e = next;
    }
    std::vector<LogRecord> records;
    LogPosition after;
    absl::Status s = log_->Read(e.position, 1, 1, &records, &after);
    Parsed p;
    if (s.ok() && !records.empty() && records[0].position == e.position &&
        ParseHeader(records[0].payload, &p)) {
      const std::string_view request = std::string_view(records[0].payload).substr(p.header_bytes);
      absl::StatusOr<WireScan> scan = ScanOtlpRequest(p.signal, request);
      if (scan.ok()) {
        QueuedRequest out;
        out.id = e.id;
        absl::Cord wire(std::move(records[0].payload));
        wire.RemovePrefix(p.header_bytes);
        out.data = Telemetry::FromWire(p.signal, std::move(wire), scan->items);
        out.enqueued = e.enqueued;
        return out;
      }
    }
    // Damaged since it was written (quarantined by the log): skipped, counted, committed.
    spdlog::error("sending queue {}: request at {} cannot be read back ({}); skipped",
                  options_.directory, e.position.ToString(),
                  s.ok() ? "damaged record" : s.ToString());
    ++counters_->damaged_records;
    Commit(e.id, absl::DataLossError("damaged on disk"));
  }
}

LogPosition DurableQueue::PopDoneLocked() {
  while (!entries_.empty() && entries_.front().state == State::kDone) {
    sent_until_ = entries_.front().next;
    entries_.pop_front();
  }
  if (!entries_.empty()) sent_until_ = entries_.front().position;
  return sent_until_;
}

void DurableQueue::Commit(uint64_t id, const absl::Status& /*outcome*/) {
  {
    absl::MutexLock lock(&mu_);
    Entry* found = Find(id);
    if (found == nullptr || found->state != State::kHandedOut) return;
    Entry& e = *found;
    e.state = State::kDone;
    sizes_.Add(e.items, e.bytes, -1);
    PopDoneLocked();
  }
  AdmitWaiters();
  PersistCursor(/*force=*/false);
}

void DurableQueue::PersistCursor(bool force) {
  absl::MutexLock lock(&cursor_mu_);
  const absl::Time now = absl::Now();
  if (!force && now - persisted_at_ < options_.cursor_interval) return;
  LogPosition until;
  {
    absl::MutexLock l(&mu_);
    until = sent_until_;
  }
  if (until <= persisted_) return;
  if (absl::Status s = log_->CommitCursor(kReader, until); !s.ok()) {
    // Not fatal: the requests are sent again after a restart.
    spdlog::warn("sending queue {}: cannot record what was sent: {}", options_.directory,
                 s.ToString());
    return;
  }
  persisted_ = until;
  persisted_at_ = now;
}

void DurableQueue::Close() {
  std::deque<Waiter> refused;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    stop_timer_ = true;
    refused.swap(waiters_);
    waiter_cv_.SignalAll();
  }
  if (timer_.joinable()) timer_.join();
  for (Waiter& w : refused) std::move(w.done)(QueueClosedError());
  PersistCursor(/*force=*/true);
}

QueueSizes DurableQueue::sizes() const {
  absl::MutexLock lock(&mu_);
  return sizes_;
}

absl::Duration DurableQueue::oldest_age() const {
  absl::MutexLock lock(&mu_);
  for (const Entry& e : entries_) {
    if (e.state != State::kDone) return absl::Now() - e.enqueued;
  }
  return absl::ZeroDuration();
}

}  // namespace otlpd::storage
