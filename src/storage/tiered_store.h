#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/signal.h"
#include "storage/block_dir.h"
#include "storage/block_tier.h"
#include "storage/hot_index.h"
#include "storage/s3_client.h"
#include "storage/segment_log.h"
#include "storage/store_reader.h"

namespace otlpd::storage {

class TraceBlockReader;

struct HotTierOptions {
  // Data leaves the tier (for warm) once older than this, or sooner while the log holds
  // more than 3/4 of max_size. Appends past max_size are refused retryably.
  absl::Duration max_age = absl::Minutes(1);
  uint64_t max_size = uint64_t{1} << 30;
  Durability durability = Durability::kFsync;
  absl::Duration group_commit_interval = absl::Milliseconds(2);
  uint64_t segment_bytes = uint64_t{64} << 20;
};

struct WarmTierOptions {
  // A block holds data received within one window of this length (and at most
  // max_block_input bytes of OTLP, ~370 k realistic spans at the default).
  absl::Duration block_window = absl::Minutes(10);
  int compression_level = 3;
  // Past these the oldest blocks are deleted (counted in expired items). 0 = no limit.
  uint64_t max_size = 0;
  absl::Duration retention = absl::ZeroDuration();
  // Per signal (traces, metrics, logs): replaces `retention` for that signal's blocks.
  std::array<std::optional<absl::Duration>, 3> signal_retention;
  uint64_t max_block_input = uint64_t{128} << 20;
};

struct ColdTierOptions {
  bool enabled = false;
  // Warm blocks whose newest data is older than this are recompacted into cold blocks.
  absl::Duration after = absl::Hours(24);
  // Where: a local directory (default DIRECTORY/cold), or an S3-compatible bucket.
  std::string path;
  std::optional<S3Config> s3;
  int compression_level = 19;
  absl::Duration retention = absl::ZeroDuration();                // 0 = keep
  std::array<std::optional<absl::Duration>, 3> signal_retention;  // as WarmTierOptions
  // A cold block is made of warm blocks of one signal holding up to this much OTLP.
  uint64_t max_block_input = uint64_t{512} << 20;
};

struct TieredStoreOptions {
  std::string directory;  // hot/ (the log), warm/ (blocks) and by default cold/ inside
  HotTierOptions hot;
  WarmTierOptions warm;
  ColdTierOptions cold;
  // How often the lifecycle looks for work (migration, retention).
  absl::Duration lifecycle_interval = absl::Seconds(1);
  // Bytes per second the lifecycle may read and write while it moves data between tiers
  // (it sleeps after each step to stay under it); 0 = no limit.
  uint64_t lifecycle_io_rate = 0;
};

struct TierStats {
  uint64_t bytes = 0;
  uint64_t blocks = 0;  // warm: blocks; hot: segment files
  uint64_t spans = 0;
  uint64_t log_records = 0;
  uint64_t metric_points = 0;
  uint64_t records = 0;                        // hot: OTLP requests held
  absl::Time oldest = absl::InfiniteFuture();  // receive time of the oldest data held
  uint64_t quarantined = 0;                    // corrupt records or blocks set aside
  uint64_t expired_items = 0;                  // deleted by retention or size budget
  // How far the tier is behind moving its data on: the oldest item's age past the age at
  // which it should have left (0 when on time).
  absl::Duration migration_lag = absl::ZeroDuration();
  LogHealth health;  // hot only
};

// The store behind the tiered_storage exporter and the query extension. OTLP requests of
// all three signals are appended durably to the hot tier's segment log and indexed in
// memory (HotIndex); a lifecycle thread moves the oldest hot data into immutable warm
// blocks (traces as columnar TraceBlocks, logs as columnar LogBlocks, metrics as
// RecordBlocks) and deletes warm blocks past retention or budget (or, with a cold tier,
// recompacts warm blocks older than cold.after into larger cold blocks at a higher zstd
// level, on a local path or S3).
// Queries read across all tiers.
//
// Crash safety: an append is acknowledged once in the log (synced per durability). A
// migration step writes its blocks (visible once their meta is written), then - under the
// lock queries take - drops the data from the hot index, then advances the log's "warm"
// cursor, which deletes the passed segments. Recovery replays the log from the newest
// position any complete step covers, and drops the blocks of an incomplete step, so
// after kill -9 at any point every acknowledged item is in exactly one tier.
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

  // Runs one lifecycle pass now (migration, recompaction, retention); the background thread
  // runs one every lifecycle_interval. A hot record moves once older than hot.max_age and
  // its block_window is over (or max_block_input is reached, or the log is over budget);
  // `flush` moves every record older than hot.max_age without waiting for its window.
  // Returns how many hot records moved.
  absl::StatusOr<size_t> RunLifecycle(bool flush = false);

  TierStats hot_stats() const;
  TierStats warm_stats() const;
  TierStats cold_stats() const;
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
    LogPosition next;  // where the record after it starts
    int64_t receive_ns;
    uint32_t bytes;
    Signal signal;
  };
  // A record read back from the log.
  struct StoredRecord {
    Signal signal;
    int64_t receive_ns;
    std::string request;  // OTLP protobuf
  };
  // A block of the warm or the cold tier.
  struct BlockRef {
    BlockMeta meta;
    bool cold = false;
  };
  // What a query sees of the tiers, taken under mu_: consistent with the hot index.
  struct Snapshot {
    std::vector<BlockRef> blocks;  // warm newest first, then cold newest first
  };

  explicit TieredStore(TieredStoreOptions options);
  absl::Status Recover();
  void IndexRecord(Signal signal, int64_t receive_ns, std::string_view request,
                   LogPosition position, LogPosition next, size_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<StoredRecord> ReadRecord(LogPosition position) const;
  std::vector<LogPosition> Positions(const std::vector<uint64_t>& records) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  Snapshot TakeSnapshot() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  void LifecycleLoop();
  absl::StatusOr<size_t> MigrateOnce(bool flush);
  absl::StatusOr<size_t> MoveToColdOnce();
  absl::Status EnforceBudgets();
  void Forget(const BlockRef& block);  // drops a deleted block from the reader cache
  // Sleeps as long as moving `bytes` since `since` takes at lifecycle_io_rate (or until
  // the store closes).
  void Throttle(uint64_t bytes, absl::Time since);
  absl::StatusOr<std::shared_ptr<const TraceBlockReader>> TraceReader(const BlockRef& block) const;
  absl::StatusOr<std::string> ReadBlock(const BlockRef& block) const;

  // Query pieces, each over one consistent view; NOT_FOUND from a hot record means a
  // migration moved it meanwhile, and the caller retries with a new snapshot.
  absl::StatusOr<std::optional<opentelemetry::proto::trace::v1::TracesData>> GetTraceOnce(
      const TraceId& id);
  absl::StatusOr<opentelemetry::proto::logs::v1::LogsData> FindLogsOnce(const LogQuery& query);
  absl::StatusOr<opentelemetry::proto::metrics::v1::MetricsData> FindMetricsOnce(
      const MetricQuery& query);

  const TieredStoreOptions options_;
  std::unique_ptr<SegmentLog> log_;
  std::unique_ptr<BlockDir> warm_;
  std::unique_ptr<BlockTier> cold_;  // null without a cold tier

  mutable absl::Mutex mu_;
  HotIndex index_ ABSL_GUARDED_BY(mu_);
  std::deque<RecordRef> records_ ABSL_GUARDED_BY(mu_);
  uint64_t first_record_ ABSL_GUARDED_BY(mu_) = 0;                  // number of records_.front()
  std::map<uint64_t, BlockMeta> warm_blocks_ ABSL_GUARDED_BY(mu_);  // visible, by id
  std::map<uint64_t, BlockMeta> cold_blocks_ ABSL_GUARDED_BY(mu_);

  absl::Mutex lifecycle_mu_;  // one lifecycle pass at a time
  absl::Mutex stop_mu_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread lifecycle_;

  // Open trace blocks, least recently used first, bounded by kReaderCacheBytes.
  mutable absl::Mutex cache_mu_;
  struct CachedReader {
    uint64_t key;  // id * 2 + cold
    uint64_t bytes;
    std::shared_ptr<const TraceBlockReader> reader;
  };
  mutable std::list<CachedReader> readers_ ABSL_GUARDED_BY(cache_mu_);
  mutable uint64_t reader_bytes_ ABSL_GUARDED_BY(cache_mu_) = 0;

  std::atomic<uint64_t> warm_expired_{0};
  std::atomic<uint64_t> cold_expired_{0};
  mutable std::atomic<uint64_t> warm_quarantined_{0};
  mutable std::atomic<uint64_t> cold_quarantined_{0};
};

}  // namespace otlpd::storage
