#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/component.h"
#include "core/log_throttle.h"
#include "processors/tail_sampling/config.h"
#include "processors/tail_sampling/policy.h"
#include "storage/segment_log.h"

namespace otlpd {

namespace tail {

struct TraceId {
  uint64_t hi = 0, lo = 0;
  static TraceId From(std::string_view bytes);  // 16 bytes
  std::string Bytes() const;
  bool operator==(const TraceId&) const = default;
  template <class H>
  friend H AbslHashValue(H h, const TraceId& id) {
    return H::combine(std::move(h), id.hi, id.lo);
  }
};

// A least-recently-used set of decided trace ids with the probability each was kept with.
class DecisionCache {
 public:
  explicit DecisionCache(size_t capacity) : capacity_(capacity) {}
  void Put(const TraceId& id, double probability);
  const double* Get(const TraceId& id);  // refreshes the entry; null if absent
  size_t size() const { return map_.size(); }

 private:
  size_t capacity_;
  std::list<std::pair<TraceId, double>> order_;  // most recent first
  absl::flat_hash_map<TraceId, std::list<std::pair<TraceId, double>>::iterator> map_;
};

// Self-metrics and what tests look at.
struct TailCounters {
  uint64_t traces_received = 0;  // new trace ids
  uint64_t traces_sampled = 0;   // decided: kept
  uint64_t traces_not_sampled = 0;
  uint64_t decided_early = 0;     // over num_traces, max_buffer_bytes or the trace size cap
  uint64_t late_spans = 0;        // arrived after their trace's decision, and followed it
  uint64_t recovered_traces = 0;  // pending traces found in the log at Start
  uint64_t forward_failures = 0;  // kept traces downstream refused (retried)
  uint64_t refused = 0;           // requests refused while the buffer was full
};

}  // namespace tail

// otelcol-contrib's tail_sampling processor with a durable buffer. Consume splits a request
// by trace, appends each trace's part to a crash-safe segment log and completes once it is
// synced there (so holding spans for decision_wait never keeps an SDK waiting, and a kill -9
// loses nothing acknowledged); memory holds only an index (per trace: its records' places,
// first arrival, spans and bytes). When a trace's decision_wait has passed, its spans are
// read back, the policies decide, and kept spans go downstream with the OpenTelemetry `th`
// of the decision in their tracestate. Decisions are logged, and the log's cursor advances
// past the oldest undecided trace, which deletes segments nothing needs any more. Start
// replays the log: the traces pending at a crash are rebuilt and decided. Shutdown decides
// everything pending and forwards it (what cannot be forwarded by the deadline stays in the
// log for the next start).
//
// Pending traces are bounded by num_traces and by max_buffer_bytes (their span bytes plus
// the index); over either, the oldest are decided at once (counted as early decisions). A
// trace reaching maximum_trace_size_bytes is decided at once, so that one huge trace
// cannot push the others out. Spans of a decided trace follow its decision (decision cache).
class TailSamplingProcessor : public Processor {
 public:
  TailSamplingProcessor(const CreateSettings& settings, const TailSamplingConfig& config,
                        ConsumerPtr next, std::vector<std::unique_ptr<tail::Policy>> policies);
  ~TailSamplingProcessor() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

  tail::TailCounters counters() const;
  size_t pending_traces() const;
  // Span bytes plus index bytes of the pending traces (what max_buffer_bytes bounds).
  uint64_t held_bytes() const;
  // The most held_bytes() has been (never above max_buffer_bytes).
  uint64_t peak_held_bytes() const;
  // Of which the in-memory index.
  uint64_t index_bytes() const;
  int64_t pending_spans() const;
  storage::LogStats log_stats() const;

 private:
  struct RecordRef {
    storage::LogPosition position;
    uint32_t bytes = 0;  // of the record's payload
    uint32_t spans = 0;
  };
  struct PendingTrace {
    int64_t first_arrival_ns = 0;
    absl::InlinedVector<RecordRef, 1> records;
    int64_t spans = 0;
    int64_t bytes = 0;
    bool deciding = false;  // handed to a decision round
    bool early = false;     // queued for an early decision
  };
  // One trace's part of a request, on its way into the log.
  struct Part {
    tail::TraceId id;
    uint32_t spans = 0;
    absl::Cord record;
  };
  // Spans to forward: an encoded OTLP request and its span count.
  struct Encoded {
    std::string bytes;
    int64_t spans = 0;
  };
  struct Round {
    std::vector<tail::TraceId> ids;
    std::vector<std::vector<RecordRef>> records;
  };
  struct DecisionEntry {
    tail::TraceId id;
    bool sampled = false;
    double probability = 1.0;
    storage::LogPosition last;  // the last record the decision covered
  };

  void DecideLoop();
  // Takes up to `max` traces: those queued for an early decision, retries that are due, and
  // those whose decision_wait has passed by `now` (every pending one if `everything`).
  Round TakeDueLocked(absl::Time now, bool everything, size_t max)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads a round's spans back, decides and forwards what is kept; `wait` waits (up to
  // `deadline`) for downstream's answer.
  void DecideRound(Round round, absl::Time deadline, bool wait);
  void FinishDecided(const std::vector<tail::TraceId>& ids,
                     const std::vector<std::vector<RecordRef>>& records,
                     const std::vector<bool>& kept, const std::vector<double>& probability,
                     const absl::Status& forward) ABSL_LOCKS_EXCLUDED(mu_);
  // After an append: indexes the parts (or lets them follow a decision made meanwhile).
  void IndexAppended(std::vector<Part>& parts, storage::LogPosition first, int64_t arrival_ns,
                     std::vector<Encoded>* late) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddRecordLocked(const tail::TraceId& id, int64_t arrival_ns, RecordRef ref, int64_t spans)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the first `n` records of a trace (decided); the trace goes when none is left.
  void DropRecordsLocked(const tail::TraceId& id, size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkEarlyLocked(const tail::TraceId& id, PendingTrace& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds (+1) or removes (-1) a trace's share of the byte and span totals.
  void AccountLocked(const PendingTrace& t, int sign) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the oldest traces for an early decision until what is held (plus `incoming`)
  // is under the caps with room to spare.
  void EnforceCapsLocked(uint64_t incoming = 0) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends spans of kept traces downstream; `done` gets downstream's answer.
  void Forward(std::vector<Encoded> encoded, Completion done);
  absl::Status Replay();
  void CommitCursor();
  void FlushDecisionRecords(bool wait);
  static uint64_t IndexBytesOf(const PendingTrace& t);

  const std::string id_;
  const TailSamplingConfig config_;
  const ConsumerPtr next_;
  const absl::Duration tick_;
  const uint64_t max_trace_bytes_;
  std::unique_ptr<storage::SegmentLog> log_;
  LogThrottle error_log_;

  absl::Mutex decide_mu_;  // one policy evaluation at a time (policies keep state)
  std::vector<std::unique_ptr<tail::Policy>> policies_ ABSL_GUARDED_BY(decide_mu_);

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  absl::flat_hash_map<tail::TraceId, PendingTrace> pending_ ABSL_GUARDED_BY(mu_);
  // Trace ids by first arrival (entries of traces decided since are skipped when met).
  std::deque<std::pair<int64_t, tail::TraceId>> arrivals_ ABSL_GUARDED_BY(mu_);
  size_t evict_scan_ ABSL_GUARDED_BY(mu_) = 0;  // arrivals_ before it are evicted or gone
  std::vector<tail::TraceId> early_queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<absl::Time, tail::TraceId>> retry_ ABSL_GUARDED_BY(mu_);
  // First record of every pending trace: the log's cursor stays at the smallest.
  std::map<storage::LogPosition, uint32_t> firsts_ ABSL_GUARDED_BY(mu_);
  // Where appends under way may start: the cursor stays before them too.
  std::multiset<storage::LogPosition> append_floors_ ABSL_GUARDED_BY(mu_);
  tail::DecisionCache sampled_cache_ ABSL_GUARDED_BY(mu_);
  tail::DecisionCache not_sampled_cache_ ABSL_GUARDED_BY(mu_);
  std::vector<DecisionEntry> decision_records_ ABSL_GUARDED_BY(mu_);
  uint64_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t peak_held_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reserved_bytes_ ABSL_GUARDED_BY(mu_) = 0;   // of appends under way
  uint64_t releasing_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of traces queued early or deciding
  uint64_t releasing_traces_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t index_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t pending_spans_ ABSL_GUARDED_BY(mu_) = 0;
  tail::TailCounters counters_ ABSL_GUARDED_BY(mu_);
  storage::LogPosition committed_ ABSL_GUARDED_BY(mu_);
  int64_t in_flight_forwards_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t appends_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread decider_;

  // Self-metrics (otelcol_processor_tail_sampling_*).
  Counter* new_trace_ids_;
  Counter* sampled_true_;
  Counter* sampled_false_;
  Counter* early_decisions_;
  Counter* late_spans_;
  Counter* recovered_;
  Gauge* traces_on_memory_;
  Gauge* buffer_bytes_;
  Histogram* decision_latency_;
};

}  // namespace otlpd
