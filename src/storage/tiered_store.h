#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/signal.h"
#include "storage/hot_index.h"
#include "storage/segment_log.h"
#include "storage/store_reader.h"

namespace otlpd::storage {

struct HotTierOptions {
  // Data older than this, or past this many bytes of log, leaves the tier. Until it can
  // (the warm tier takes it), appends past max_size are refused retryably.
  absl::Duration max_age = absl::Minutes(15);
  uint64_t max_size = uint64_t{256} << 20;
  Durability durability = Durability::kFsync;
  absl::Duration group_commit_interval = absl::Milliseconds(2);
  uint64_t segment_bytes = uint64_t{32} << 20;
};

struct TieredStoreOptions {
  std::string directory;  // the hot tier's log is directory/hot
  HotTierOptions hot;
};

struct TierStats {
  uint64_t bytes = 0;
  uint64_t spans = 0;
  uint64_t log_records = 0;
  uint64_t metric_points = 0;
  uint64_t records = 0;                        // OTLP requests
  absl::Time oldest = absl::InfiniteFuture();  // receive time of the oldest data held
  LogHealth health;
};

// The store behind the tiered_storage exporter and the query extension: OTLP requests of
// all three signals, appended durably to the hot tier's segment log and indexed in memory
// (HotIndex); queries read the records they need back from the log. Opening replays the
// log into the index, so whatever an append acknowledged is found again after kill -9.
//
// Thread-safe: appends and queries run concurrently; a query sees every append that
// completed before it started.
class TieredStore final : public StoreReader {
 public:
  using Done = absl::AnyInvocable<void(absl::Status) &&>;

  static absl::StatusOr<std::unique_ptr<TieredStore>> Open(TieredStoreOptions options);
  ~TieredStore() override;

  // Stores one OTLP Export*ServiceRequest (protobuf) of `signal`; `done` runs once it is
  // durable per hot.durability and visible to queries. RESOURCE_EXHAUSTED when full.
  // A request that does not decode is refused with INVALID_ARGUMENT before anything is
  // written; `checked` says the caller knows it decodes (a Telemetry's bytes: receivers
  // scanned them), which saves scanning it again.
  void Append(Signal signal, const absl::Cord& request, Done done, bool checked = false);

  TierStats hot_stats() const;
  const TieredStoreOptions& options() const { return options_; }

  // StoreReader
  absl::StatusOr<std::vector<std::string>> Services() override;
  absl::StatusOr<std::vector<Operation>> Operations(const std::string& service,
                                                    const std::string& span_kind) override;
  absl::StatusOr<std::vector<TraceId>> FindTraces(const TraceQuery& query) override;
  absl::StatusOr<std::optional<opentelemetry::proto::trace::v1::TracesData>> GetTrace(
      const TraceId& id) override;
  absl::StatusOr<std::vector<DependencyLink>> Dependencies(const TimeRange& time) override;
  absl::StatusOr<opentelemetry::proto::logs::v1::LogsData> FindLogs(const LogQuery& query) override;
  absl::StatusOr<opentelemetry::proto::metrics::v1::MetricsData> FindMetrics(
      const MetricQuery& query) override;

 private:
  struct RecordRef {
    LogPosition position;
    int64_t receive_ns;
    uint32_t bytes;
  };
  // A record read back from the log.
  struct StoredRecord {
    Signal signal;
    int64_t receive_ns;
    std::string request;  // OTLP protobuf
  };

  explicit TieredStore(TieredStoreOptions options);
  absl::Status Recover();
  // Indexes a record that is in the log. Requires mu_ held for writing.
  absl::Status IndexRecord(Signal signal, int64_t receive_ns, std::string_view request,
                           LogPosition position, size_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<StoredRecord> ReadRecord(LogPosition position) const;
  std::vector<LogPosition> Positions(const std::vector<uint64_t>& records) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const TieredStoreOptions options_;
  std::unique_ptr<SegmentLog> log_;

  mutable absl::Mutex mu_;
  HotIndex index_ ABSL_GUARDED_BY(mu_);
  std::deque<RecordRef> records_ ABSL_GUARDED_BY(mu_);
  uint64_t first_record_ ABSL_GUARDED_BY(mu_) = 0;  // number of records_.front()
};

}  // namespace otlpd::storage
