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
constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderBytes = 1 + 1 + 4 + 8;

std::string Header(Signal signal, uint32_t items, int64_t enqueued_ns) {
  std::string h(kHeaderBytes, '\0');
  h[0] = static_cast<char>(kVersion);
  h[1] = static_cast<char>(signal);
  std::memcpy(h.data() + 2, &items, 4);
  std::memcpy(h.data() + 6, &enqueued_ns, 8);
  return h;
}

struct Parsed {
  Signal signal;
  uint32_t items;
  int64_t enqueued_ns;
};

bool ParseHeader(std::string_view record, Parsed* out) {
  if (record.size() < kHeaderBytes || static_cast<uint8_t>(record[0]) != kVersion ||
      static_cast<uint8_t>(record[1]) > static_cast<uint8_t>(Signal::kLogs)) {
    return false;
  }
  out->signal = static_cast<Signal>(record[1]);
  std::memcpy(&out->items, record.data() + 2, 4);
  std::memcpy(&out->enqueued_ns, record.data() + 6, 8);
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DurableQueue>> DurableQueue::Open(DurableQueueOptions options) {
  SegmentLogOptions lo;
  lo.segment_bytes = options.segment_bytes;
  lo.durability = options.durability;
  lo.group_commit_interval = options.group_commit_interval;
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
      Entry e{next_id_++,
              r.position,
              r.next,
              p.items,
              static_cast<int64_t>(r.payload.size() - kHeaderBytes),
              absl::FromUnixNanos(p.enqueued_ns)};
      sizes_.Add(e.items, e.bytes, +1);
      entries_.push_back(e);
    }
    from = next;
  }
  damaged += log_->stats().health.quarantined_records;
  counters_->recovered_requests = entries_.size();
  counters_->damaged_records += damaged;
  if (!entries_.empty() || damaged > 0) {
    spdlog::info("sending queue {}: {} requests ({} items) recovered; {} damaged records skipped",
                 options_.directory, entries_.size(), sizes_.items, damaged);
  }
  return absl::OkStatus();
}

void DurableQueue::Offer(TelemetryPtr data, Completion done) {
  const int64_t items = static_cast<int64_t>(data->ItemCount());
  const int64_t bytes = static_cast<int64_t>(data->ByteSize());
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      std::move(done)(QueueClosedError());
      return;
    }
    const int64_t used = sizes_.In(options_.sizer) + reserved_.In(options_.sizer);
    const bool empty = sizes_.requests + reserved_.requests == 0;
    if (!empty && used + SizeOf(options_.sizer, *data) > options_.capacity) {
      std::move(done)(QueueFullError());
      return;
    }
    reserved_.Add(items, bytes, +1);
  }
  const absl::Time enqueued = absl::Now();
  absl::Cord record(
      Header(data->signal(), static_cast<uint32_t>(items), absl::ToUnixNanos(enqueued)));
  record.Append(data->wire());
  // Completions run in log order, so entries_ stays in log order.
  log_->Append(
      {std::move(record)}, [this, items, bytes, enqueued, done = std::move(done)](
                               absl::Status s, LogPosition first, LogPosition end) mutable {
        {
          absl::MutexLock lock(&mu_);
          reserved_.Add(items, bytes, -1);
          if (s.ok()) {
            entries_.push_back(Entry{next_id_++, first, end, items, bytes, enqueued});
            sizes_.Add(items, bytes, +1);
          }
        }
        // A full disk is RESOURCE_EXHAUSTED: as retryable as a full queue.
        std::move(done)(
            s.ok() || s.code() != absl::StatusCode::kResourceExhausted ? s : QueueFullError());
      });
}

std::optional<QueuedRequest> DurableQueue::Read(absl::Time deadline) {
  while (true) {
    Entry e{};
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(this, &DurableQueue::ReadableOrClosed), deadline);
      if (next_unread_ >= entries_.size()) return std::nullopt;  // deadline, or closed
      Entry& next = entries_[next_unread_++];
      next.state = State::kHandedOut;
      e = next;
    }
    std::vector<LogRecord> records;
    LogPosition after;
    absl::Status s = log_->Read(e.position, 1, 1, &records, &after);
    Parsed p;
    if (s.ok() && !records.empty() && records[0].position == e.position &&
        ParseHeader(records[0].payload, &p)) {
      const std::string_view request = std::string_view(records[0].payload).substr(kHeaderBytes);
      absl::StatusOr<WireScan> scan = ScanOtlpRequest(p.signal, request);
      if (scan.ok()) {
        QueuedRequest out;
        out.id = e.id;
        absl::Cord wire(std::move(records[0].payload));
        wire.RemovePrefix(kHeaderBytes);
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
    --next_unread_;
  }
  if (!entries_.empty()) sent_until_ = entries_.front().position;
  return sent_until_;
}

void DurableQueue::Commit(uint64_t id, const absl::Status& /*outcome*/) {
  {
    absl::MutexLock lock(&mu_);
    if (entries_.empty() || id < entries_.front().id ||
        id - entries_.front().id >= entries_.size()) {
      return;
    }
    Entry& e = entries_[id - entries_.front().id];
    if (e.state != State::kHandedOut) return;
    e.state = State::kDone;
    sizes_.Add(e.items, e.bytes, -1);
    PopDoneLocked();
  }
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
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
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
