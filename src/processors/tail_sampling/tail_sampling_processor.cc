#include "processors/tail_sampling/tail_sampling_processor.h"

#include <google/protobuf/arena.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/otlp_wire.h"
#include "core/status.h"
#include "processors/consistent_sampling/threshold.h"
#include "processors/consistent_sampling/tracestate.h"

namespace otlpd {

namespace tail {

TraceId TraceId::From(std::string_view b) {
  TraceId id;
  if (b.size() == 16) {
    id.hi = absl::big_endian::Load64(b.data());
    id.lo = absl::big_endian::Load64(b.data() + 8);
  }
  return id;
}

std::string TraceId::Bytes() const {
  std::string out(16, '\0');
  absl::big_endian::Store64(out.data(), hi);
  absl::big_endian::Store64(out.data() + 8, lo);
  return out;
}

void DecisionCache::Put(const TraceId& id, double probability) {
  if (capacity_ == 0) return;
  auto it = map_.find(id);
  if (it != map_.end()) {
    it->second->second = probability;
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  order_.emplace_front(id, probability);
  map_[id] = order_.begin();
  if (map_.size() > capacity_) {
    map_.erase(order_.back().first);
    order_.pop_back();
  }
}

const double* DecisionCache::Get(const TraceId& id) {
  auto it = map_.find(id);
  if (it == map_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second);
  return &it->second->second;
}

}  // namespace tail

namespace {

using tail::TraceId;

constexpr char kReader[] = "tail_sampling";
constexpr uint8_t kSpansRecord = 1;
constexpr uint8_t kDecisionRecord = 2;
// Spans record: [kind u8][first arrival unix ns i64][trace id 16][spans u32][request].
constexpr size_t kSpansHeader = 1 + 8 + 16 + 4;
// Decision record: [kind u8] then per trace [trace id 16][sampled u8][probability f64]
// [segment u64][offset u64] (the last record the decision covered).
constexpr size_t kDecisionEntry = 16 + 1 + 8 + 8 + 8;
// What one pending trace costs in the index besides its record list (the hash map slot at
// its load factor, its arrival-queue entry, its node among the first positions).
constexpr uint64_t kTraceIndexBytes = 160;
constexpr uint64_t kLogRecordHeader = 12;             // the segment log's, per record
constexpr size_t kMaxRound = 4096;                    // traces decided together
constexpr size_t kMaxForwardBytes = size_t{1} << 20;  // per downstream request

void PutU64(std::string* out, uint64_t v) {
  char b[8];
  absl::little_endian::Store64(b, v);
  out->append(b, 8);
}

// A completion run once `n` parts have finished, with the first error.
struct Join {
  Join(int n, Completion d) : left(n), done(std::move(d)) {}
  void Finish(absl::Status s) {
    {
      absl::MutexLock lock(&mu);
      if (!s.ok() && status.ok()) status = std::move(s);
      if (--left > 0) return;
    }
    std::move(done)(status);
  }
  absl::Mutex mu;
  int left;
  absl::Status status;
  Completion done;
};

// Sets the `th` of every span to what `probability` gives (replacing any there was) and
// encodes the request.
std::string EncodeWithThreshold(TracesRequest* request, double probability) {
  absl::StatusOr<uint64_t> threshold = consistent_sampling::ThresholdFromProbability(
      std::max(probability, consistent_sampling::kMinProbability));
  for (auto& rs : *request->mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) {
        if (!threshold.ok()) break;
        absl::StatusOr<std::string> ts =
            consistent_sampling::WithThreshold(span.trace_state(), *threshold);
        // A tracestate that breaks the W3C rules is replaced by the `ot` entry alone.
        if (!ts.ok()) ts = consistent_sampling::WithThreshold("", *threshold);
        if (ts.ok()) span.set_trace_state(*std::move(ts));
      }
    }
  }
  return request->SerializeAsString();
}

// The trace's randomness: an explicit `rv` in the first span's tracestate, else the id's.
uint64_t RandomnessOf(const std::string& trace_id, const std::vector<const TracesRequest*>& parts) {
  for (const TracesRequest* part : parts) {
    for (const auto& rs : part->resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          if (!span.trace_state().empty()) {
            absl::StatusOr<consistent_sampling::TraceState> ts =
                consistent_sampling::ParseTraceState(span.trace_state());
            if (ts.ok() && ts->ot.randomness) return *ts->ot.randomness;
          }
          return consistent_sampling::RandomnessFromTraceId(trace_id);
        }
      }
    }
  }
  return consistent_sampling::RandomnessFromTraceId(trace_id);
}

}  // namespace

TailSamplingProcessor::TailSamplingProcessor(const CreateSettings& settings,
                                             const TailSamplingConfig& config, ConsumerPtr next,
                                             std::vector<std::unique_ptr<tail::Policy>> policies)
    : id_(settings.id.ToString()),
      config_(config),
      next_(std::move(next)),
      tick_(std::clamp(config.decision_wait / 10, absl::Milliseconds(10), absl::Seconds(1))),
      max_trace_bytes_(config.maximum_trace_size_bytes > 0 ? config.maximum_trace_size_bytes
                                                           : config.max_buffer_bytes / 16),
      policies_(std::move(policies)),
      sampled_cache_(config.sampled_cache_size > 0 ? config.sampled_cache_size
                                                   : std::max<int64_t>(config.num_traces, 1)),
      not_sampled_cache_(config.non_sampled_cache_size > 0
                             ? config.non_sampled_cache_size
                             : std::max<int64_t>(config.num_traces, 1)) {
  MetricsRegistry& m = settings.host->metrics();
  const Labels labels = {{"processor", id_}};
  new_trace_ids_ = m.GetCounter("otelcol_processor_tail_sampling_new_trace_id_received", labels,
                                "Trace ids received for the first time");
  Labels yes = labels, no = labels;
  yes.emplace_back("sampled", "true");
  no.emplace_back("sampled", "false");
  const std::string sampled_help = "Traces decided, by outcome";
  sampled_true_ = m.GetCounter("otelcol_processor_tail_sampling_global_count_traces_sampled", yes,
                               sampled_help);
  sampled_false_ =
      m.GetCounter("otelcol_processor_tail_sampling_global_count_traces_sampled", no, sampled_help);
  early_decisions_ =
      m.GetCounter("otelcol_processor_tail_sampling_early_decisions", labels,
                   "Traces decided before decision_wait (num_traces, max_buffer_bytes or "
                   "maximum_trace_size_bytes reached)");
  late_spans_ = m.GetCounter("otelcol_processor_tail_sampling_late_spans", labels,
                             "Spans that arrived after their trace's decision and followed it");
  recovered_ = m.GetCounter("otelcol_processor_tail_sampling_recovered_traces", labels,
                            "Pending traces found in the buffer at start (after a crash)");
  traces_on_memory_ = m.GetGauge("otelcol_processor_tail_sampling_sampling_traces_on_memory",
                                 labels, "Pending traces");
  buffer_bytes_ = m.GetGauge("otelcol_processor_tail_sampling_buffer_bytes", labels,
                             "Span and index bytes of the pending traces");
  decision_latency_ =
      m.GetHistogram("otelcol_processor_tail_sampling_sampling_decision_latency", labels,
                     {1,   2,   5,    10,   25,   50,   75,   100,   150,   200,   300,  400,
                      500, 750, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 50000},
                     "Microseconds the policies took per decision round");
}

TailSamplingProcessor::~TailSamplingProcessor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (decider_.joinable()) decider_.join();
  if (log_ == nullptr) return;
  // Downstream answers what Shutdown handed on once the exporters shut down; wait for those
  // answers (they come back into this object), then log the decisions they completed.
  {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return in_flight_forwards_ == 0 && appends_in_flight_ == 0;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&idle), absl::Seconds(30))) {
      spdlog::error("{}: downstream still holds forwarded spans at exit", id_);
    }
    if (!pending_.empty()) {
      spdlog::warn("{}: {} traces stay pending in {} for the next start", id_, pending_.size(),
                   log_->dir());
    }
  }
  FlushDecisionRecords(true);
  CommitCursor();
  log_.reset();
}

absl::Status TailSamplingProcessor::Start() {
  std::string dir = config_.directory;
  if (dir.empty()) {
    dir = absl::StrCat("./data/tail_sampling/", absl::StrReplaceAll(id_, {{"/", "_"}}));
  }
  storage::SegmentLogOptions options;
  options.segment_bytes = uint64_t{16} << 20;
  options.durability =
      storage::ParseDurability(config_.durability).value_or(storage::Durability::kFsync);
  absl::StatusOr<std::unique_ptr<storage::SegmentLog>> log =
      storage::SegmentLog::Open(dir, options);
  if (!log.ok()) {
    return absl::Status(log.status().code(), absl::StrCat(id_, ": buffer directory ", dir, ": ",
                                                          log.status().message()));
  }
  log_ = *std::move(log);
  if (absl::Status s = Replay(); !s.ok()) return s;
  decider_ = std::thread([this] { DecideLoop(); });
  return absl::OkStatus();
}

absl::Status TailSamplingProcessor::Replay() {
  absl::StatusOr<storage::LogPosition> cursor = log_->RegisterReader(kReader);
  if (!cursor.ok()) return cursor.status();
  storage::LogPosition pos = *cursor;
  absl::MutexLock lock(&mu_);
  committed_ = pos;
  std::vector<storage::LogRecord> records;
  while (true) {
    records.clear();
    storage::LogPosition next;
    absl::Status s = log_->Read(pos, 1024, size_t{16} << 20, &records, &next);
    if (!s.ok()) return s;
    if (records.empty()) break;
    for (storage::LogRecord& r : records) {
      const std::string& p = r.payload;
      if (p.empty()) continue;
      if (p[0] == kSpansRecord && p.size() >= kSpansHeader) {
        int64_t arrival = static_cast<int64_t>(absl::little_endian::Load64(p.data() + 1));
        TraceId id = TraceId::From(std::string_view(p.data() + 9, 16));
        int64_t spans = absl::little_endian::Load32(p.data() + 25);
        AddRecordLocked(id, arrival,
                        {r.position, static_cast<uint32_t>(p.size()), static_cast<uint32_t>(spans)},
                        spans);
      } else if (p[0] == kDecisionRecord) {
        for (size_t at = 1; at + kDecisionEntry <= p.size(); at += kDecisionEntry) {
          TraceId id = TraceId::From(std::string_view(p.data() + at, 16));
          bool sampled = p[at + 16] != 0;
          double probability;
          uint64_t bits = absl::little_endian::Load64(p.data() + at + 17);
          std::memcpy(&probability, &bits, 8);
          storage::LogPosition last{absl::little_endian::Load64(p.data() + at + 25),
                                    absl::little_endian::Load64(p.data() + at + 33)};
          (sampled ? sampled_cache_ : not_sampled_cache_).Put(id, probability);
          auto it = pending_.find(id);
          if (it == pending_.end()) continue;
          // Drop the records this decision covered; later ones stay pending.
          auto& recs = it->second.records;
          size_t covered = 0;
          while (covered < recs.size() && recs[covered].position <= last) ++covered;
          DropRecordsLocked(id, covered);
        }
      }
    }
    pos = next;
  }
  counters_.recovered_traces = pending_.size();
  recovered_->Add(pending_.size());
  if (!pending_.empty()) {
    spdlog::info("{}: {} pending traces ({} spans) recovered from {}", id_, pending_.size(),
                 pending_spans_, log_->dir());
  }
  EnforceCapsLocked();
  return absl::OkStatus();
}

uint64_t TailSamplingProcessor::IndexBytesOf(const PendingTrace& t) {
  uint64_t records = t.records.size() > 1 ? t.records.capacity() * sizeof(RecordRef) : 0;
  return kTraceIndexBytes + records;
}

void TailSamplingProcessor::AccountLocked(const PendingTrace& t, int sign) {
  const uint64_t index = IndexBytesOf(t);
  const uint64_t cost = static_cast<uint64_t>(t.bytes) + index;
  auto apply = [sign](auto& total, auto v) {
    if (sign > 0) {
      total += v;
    } else {
      total -= v;
    }
  };
  apply(held_bytes_, cost);
  apply(index_bytes_, index);
  apply(pending_spans_, t.spans);
  if (t.early || t.deciding) {
    apply(releasing_bytes_, cost);
    apply(releasing_traces_, uint64_t{1});
  }
  if (sign > 0) peak_held_bytes_ = std::max(peak_held_bytes_, held_bytes_ + reserved_bytes_);
}

void TailSamplingProcessor::MarkEarlyLocked(const TraceId& id, PendingTrace& t) {
  AccountLocked(t, -1);
  t.early = true;
  AccountLocked(t, +1);
  early_queue_.push_back(id);
  ++counters_.decided_early;
  early_decisions_->Add(1);
}

void TailSamplingProcessor::AddRecordLocked(const TraceId& id, int64_t arrival_ns, RecordRef ref,
                                            int64_t spans) {
  auto [it, fresh] = pending_.try_emplace(id);
  PendingTrace& t = it->second;
  if (fresh) {
    t.first_arrival_ns = arrival_ns;
    arrivals_.emplace_back(arrival_ns, id);
    ++firsts_[ref.position];
    ++counters_.traces_received;
    new_trace_ids_->Add(1);
  } else {
    AccountLocked(t, -1);
  }
  t.records.push_back(ref);
  t.spans += spans;
  t.bytes += ref.bytes;
  AccountLocked(t, +1);
  if (static_cast<uint64_t>(t.bytes) >= max_trace_bytes_ && !t.early && !t.deciding) {
    MarkEarlyLocked(id, t);
    wake_.Signal();
  }
}

void TailSamplingProcessor::DropRecordsLocked(const TraceId& id, size_t n) {
  auto it = pending_.find(id);
  if (it == pending_.end() || n == 0) return;
  PendingTrace& t = it->second;
  AccountLocked(t, -1);
  if (--firsts_[t.records[0].position] == 0) firsts_.erase(t.records[0].position);
  if (n >= t.records.size()) {
    pending_.erase(it);
    return;
  }
  // Spans that came while the trace was being decided stay, as a trace of their own that the
  // decision cache decides in the next round.
  int64_t bytes = 0;
  for (size_t i = 0; i < n; ++i) bytes += t.records[i].bytes;
  int64_t spans_left = 0;
  for (size_t i = n; i < t.records.size(); ++i) spans_left += t.records[i].spans;
  t.records.erase(t.records.begin(), t.records.begin() + static_cast<ptrdiff_t>(n));
  t.bytes -= bytes;
  t.spans = spans_left;
  t.deciding = false;
  t.early = true;
  ++firsts_[t.records[0].position];
  AccountLocked(t, +1);
  early_queue_.push_back(id);
}

void TailSamplingProcessor::EnforceCapsLocked(uint64_t incoming) {
  const uint64_t cap = config_.max_buffer_bytes;
  const uint64_t target = cap - cap / 8;  // leave room for what arrives meanwhile
  const uint64_t max_traces = static_cast<uint64_t>(std::max<int64_t>(config_.num_traces, 1));
  bool woke = false;
  while (held_bytes_ + reserved_bytes_ + incoming - releasing_bytes_ > target ||
         pending_.size() - releasing_traces_ > max_traces) {
    if (evict_scan_ >= arrivals_.size()) break;
    const auto [arrival, id] = arrivals_[evict_scan_++];
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.first_arrival_ns != arrival || it->second.early ||
        it->second.deciding) {
      continue;
    }
    MarkEarlyLocked(id, it->second);
    woke = true;
  }
  if (woke) wake_.Signal();
}

void TailSamplingProcessor::Consume(TelemetryPtr data, Completion done) {
  const TracesRequest& request = data->traces();
  // Split the request by trace: one sub-request per trace, with the resources and scopes its
  // spans came with.
  struct Building {
    TraceId id;
    TracesRequest request;
    int rs = -1, ss = -1;
    opentelemetry::proto::trace::v1::ResourceSpans* cur_rs = nullptr;
    opentelemetry::proto::trace::v1::ScopeSpans* cur_ss = nullptr;
    int64_t spans = 0;
  };
  absl::flat_hash_map<TraceId, size_t> by_id;
  std::vector<std::unique_ptr<Building>> traces;
  int64_t invalid = 0;
  for (int ri = 0; ri < request.resource_spans_size(); ++ri) {
    const auto& rs = request.resource_spans(ri);
    for (int si = 0; si < rs.scope_spans_size(); ++si) {
      const auto& ss = rs.scope_spans(si);
      for (const auto& span : ss.spans()) {
        if (span.trace_id().size() != 16) {
          ++invalid;
          continue;
        }
        TraceId id = TraceId::From(span.trace_id());
        auto [it, fresh] = by_id.try_emplace(id, traces.size());
        if (fresh) {
          traces.push_back(std::make_unique<Building>());
          traces.back()->id = id;
        }
        Building& b = *traces[it->second];
        if (b.rs != ri) {
          b.cur_rs = b.request.add_resource_spans();
          *b.cur_rs->mutable_resource() = rs.resource();
          b.cur_rs->set_schema_url(rs.schema_url());
          b.rs = ri;
          b.ss = -1;
        }
        if (b.ss != si) {
          b.cur_ss = b.cur_rs->add_scope_spans();
          *b.cur_ss->mutable_scope() = ss.scope();
          b.cur_ss->set_schema_url(ss.schema_url());
          b.ss = si;
        }
        *b.cur_ss->add_spans() = span;
        ++b.spans;
      }
    }
  }
  if (invalid > 0) {
    if (uint64_t n = error_log_.Add(static_cast<uint64_t>(invalid))) {
      spdlog::warn("{}: dropped {} spans without a 16-byte trace id", id_, n);
    }
  }
  const int64_t now_ns = absl::GetCurrentTimeNanos();
  std::vector<Part> parts;
  std::vector<Encoded> late_sampled;
  int64_t late_spans = 0;
  uint64_t incoming = 0;
  storage::LogPosition floor;  // the log's end before this append: the cursor stays behind it
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || log_ == nullptr) {
      std::move(done)(RetryableError(absl::StatusCode::kUnavailable,
                                     "tail_sampling is shutting down", absl::Seconds(1)));
      return;
    }
    for (auto& b : traces) {
      auto pend = pending_.find(b->id);
      if (pend == pending_.end() || !pend->second.deciding) {
        // A trace decided before (and not pending again) follows its decision.
        if (pend == pending_.end()) {
          if (const double* p = sampled_cache_.Get(b->id)) {
            late_sampled.push_back({EncodeWithThreshold(&b->request, *p), b->spans});
            late_spans += b->spans;
            continue;
          }
          if (not_sampled_cache_.Get(b->id) != nullptr) {
            late_spans += b->spans;
            continue;
          }
        }
      }
      Part part;
      part.id = b->id;
      part.spans = b->spans;
      std::string record;
      record.reserve(kSpansHeader + b->request.ByteSizeLong());
      record.push_back(static_cast<char>(kSpansRecord));
      PutU64(&record, static_cast<uint64_t>(now_ns));
      record.append(b->id.Bytes());
      char n[4];
      absl::little_endian::Store32(n, static_cast<uint32_t>(b->spans));
      record.append(n, 4);
      b->request.AppendToString(&record);
      incoming += record.size() + kTraceIndexBytes;
      part.record = absl::Cord(std::move(record));
      parts.push_back(std::move(part));
    }
    counters_.late_spans += static_cast<uint64_t>(late_spans);
    late_spans_->Add(static_cast<uint64_t>(late_spans));
    if (!parts.empty()) {
      if (incoming > config_.max_buffer_bytes) {
        std::move(done)(absl::InvalidArgumentError(
            absl::StrCat("request needs ", incoming,
                         " bytes of tail_sampling buffer, more than max_buffer_bytes")));
        return;
      }
      // Make room by deciding the oldest traces early; refuse (retryably) only while those
      // decisions are still running.
      EnforceCapsLocked(incoming);
      if (held_bytes_ + reserved_bytes_ + incoming > config_.max_buffer_bytes) {
        ++counters_.refused;
        std::move(done)(RetryableError(absl::StatusCode::kResourceExhausted,
                                       "tail_sampling buffer full (max_buffer_bytes)",
                                       absl::Milliseconds(200)));
        return;
      }
      reserved_bytes_ += incoming;
      ++appends_in_flight_;
      floor = log_->end();
      append_floors_.insert(floor);
    }
  }
  int n_parts = (parts.empty() ? 0 : 1) + (late_sampled.empty() ? 0 : 1);
  if (n_parts == 0) {
    std::move(done)(absl::OkStatus());
    return;
  }
  auto join = std::make_shared<Join>(n_parts, std::move(done));
  if (!late_sampled.empty()) {
    Forward(std::move(late_sampled), [join](absl::Status s) { join->Finish(std::move(s)); });
  }
  if (parts.empty()) return;
  // The records share their Cord trees with the parts, so both go with the completion: every
  // reference is dropped on the log's thread (a reference count Abseil's library keeps where
  // TSan cannot see it, dropped on two threads, reads as a race).
  auto records = std::make_shared<std::vector<absl::Cord>>();
  records->reserve(parts.size());
  for (const Part& p : parts) records->push_back(p.record);
  auto shared_parts = std::make_shared<std::vector<Part>>(std::move(parts));
  const std::vector<absl::Cord>& to_append = *records;
  log_->Append(to_append, [this, shared_parts, records, join, floor, incoming, now_ns](
                              absl::Status s, storage::LogPosition first, storage::LogPosition) {
    std::vector<Encoded> late;
    {
      absl::MutexLock lock(&mu_);
      reserved_bytes_ -= incoming;
      if (s.ok()) IndexAppended(*shared_parts, first, now_ns, &late);
      append_floors_.erase(append_floors_.find(floor));
      --appends_in_flight_;
    }
    if (!late.empty()) {
      // Decided while being written: they follow the decision (the caller waits for them).
      auto inner = std::make_shared<Join>(2, [join](absl::Status st) { join->Finish(st); });
      Forward(std::move(late), [inner](absl::Status st) { inner->Finish(st); });
      inner->Finish(s);
      return;
    }
    join->Finish(std::move(s));
  });
}

void TailSamplingProcessor::IndexAppended(std::vector<Part>& parts, storage::LogPosition first,
                                          int64_t arrival_ns, std::vector<Encoded>* late) {
  storage::LogPosition pos = first;
  for (Part& part : parts) {
    RecordRef ref{pos, static_cast<uint32_t>(part.record.size()), part.spans};
    pos.offset += kLogRecordHeader + part.record.size();
    if (!pending_.contains(part.id)) {
      if (const double* p = sampled_cache_.Get(part.id)) {
        std::string flat(part.record);
        TracesRequest request;
        if (request.ParseFromArray(flat.data() + kSpansHeader,
                                   static_cast<int>(flat.size() - kSpansHeader))) {
          late->push_back({EncodeWithThreshold(&request, *p), part.spans});
        }
        counters_.late_spans += part.spans;
        late_spans_->Add(part.spans);
        continue;
      }
      if (not_sampled_cache_.Get(part.id) != nullptr) {
        counters_.late_spans += part.spans;
        late_spans_->Add(part.spans);
        continue;
      }
    }
    AddRecordLocked(part.id, arrival_ns, ref, part.spans);
  }
  EnforceCapsLocked();
}

TailSamplingProcessor::Round TailSamplingProcessor::TakeDueLocked(absl::Time now, bool everything,
                                                                  size_t max) {
  Round round;
  auto take = [&](const TraceId& id, PendingTrace& t) {
    AccountLocked(t, -1);
    t.deciding = true;
    t.early = false;
    AccountLocked(t, +1);
    round.ids.push_back(id);
    round.records.emplace_back(t.records.begin(), t.records.end());
  };
  size_t used = 0;
  for (; used < early_queue_.size() && round.ids.size() < max; ++used) {
    auto it = pending_.find(early_queue_[used]);
    if (it != pending_.end() && !it->second.deciding) take(it->first, it->second);
  }
  early_queue_.erase(early_queue_.begin(), early_queue_.begin() + static_cast<ptrdiff_t>(used));
  for (size_t i = 0; i < retry_.size() && round.ids.size() < max;) {
    if (!everything && retry_[i].first > now) {
      ++i;
      continue;
    }
    auto it = pending_.find(retry_[i].second);
    if (it != pending_.end() && !it->second.deciding) take(it->first, it->second);
    retry_.erase(retry_.begin() + static_cast<ptrdiff_t>(i));
  }
  const int64_t due_ns = absl::ToUnixNanos(now - config_.decision_wait);
  while (!arrivals_.empty() && round.ids.size() < max &&
         (everything || arrivals_.front().first <= due_ns)) {
    auto [arrival, id] = arrivals_.front();
    arrivals_.pop_front();
    if (evict_scan_ > 0) --evict_scan_;
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.first_arrival_ns != arrival || it->second.deciding) {
      continue;
    }
    take(id, it->second);
  }
  return round;
}

void TailSamplingProcessor::DecideLoop() {
  bool more = false;  // a full round was just decided: more may be due at once
  while (true) {
    Round round;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ || !early_queue_.empty();
      };
      if (!more) mu_.AwaitWithTimeout(absl::Condition(&ready), tick_);
      if (stopping_) return;
      round = TakeDueLocked(absl::Now(), false, kMaxRound);
    }
    more = round.ids.size() == kMaxRound;
    if (!round.ids.empty()) DecideRound(std::move(round), absl::InfiniteFuture(), false);
    // Log what downstream has accepted and let the cursor pass it, after every round (under
    // steady load there is one every tick).
    FlushDecisionRecords(false);
    CommitCursor();
  }
}

void TailSamplingProcessor::DecideRound(Round round, absl::Time deadline, bool wait) {
  const size_t n = round.ids.size();
  google::protobuf::Arena arena;
  std::vector<tail::TraceView> views(n);
  std::vector<std::vector<std::pair<TracesRequest*, int64_t>>> parts(n);
  std::vector<storage::LogRecord> got;
  for (size_t i = 0; i < n; ++i) {
    tail::TraceView& v = views[i];
    v.trace_id = round.ids[i].Bytes();
    for (const RecordRef& ref : round.records[i]) {
      got.clear();
      storage::LogPosition next;
      absl::Status s = log_->Read(ref.position, 1, ref.bytes, &got, &next);
      if (!s.ok() || got.empty() || got[0].position != ref.position ||
          got[0].payload.size() < kSpansHeader) {
        if (uint64_t k = error_log_.Add(1)) {
          spdlog::error("{}: {} buffered records unreadable ({}); their spans are lost", id_, k,
                        s.ok() ? "damaged" : s.ToString());
        }
        continue;
      }
      const std::string& payload = got[0].payload;
      auto* request = google::protobuf::Arena::CreateMessage<TracesRequest>(&arena);
      if (!request->ParseFromArray(payload.data() + kSpansHeader,
                                   static_cast<int>(payload.size() - kSpansHeader))) {
        continue;
      }
      parts[i].emplace_back(request, ref.spans);
      v.parts.push_back(request);
      v.spans += ref.spans;
      v.bytes += static_cast<int64_t>(payload.size() - kSpansHeader);
    }
  }
  for (size_t i = 0; i < n; ++i)
    views[i].randomness = RandomnessOf(views[i].trace_id, views[i].parts);
  // Traces decided before (a restart after the decision was forwarded, spans that came
  // during a decision) keep that decision; the others go to the policies.
  std::vector<bool> kept(n, false);
  std::vector<double> probability(n, 1.0);
  std::vector<size_t> undecided;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < n; ++i) {
      if (const double* p = sampled_cache_.Get(round.ids[i])) {
        kept[i] = true;
        probability[i] = *p;
      } else if (not_sampled_cache_.Get(round.ids[i]) == nullptr) {
        undecided.push_back(i);
      }
    }
  }
  if (!undecided.empty()) {
    absl::Time start = absl::Now();
    std::vector<const tail::TraceView*> batch;
    for (size_t i : undecided) batch.push_back(&views[i]);
    std::vector<std::vector<tail::Verdict>> verdicts(batch.size());
    {
      absl::MutexLock lock(&decide_mu_);
      // sample_on_first_match: a policy sees only what the earlier ones did not sample.
      std::vector<size_t> open(batch.size());
      for (size_t k = 0; k < open.size(); ++k) open[k] = k;
      std::vector<tail::Verdict> out;
      for (auto& policy : policies_) {
        if (open.empty()) break;
        std::vector<const tail::TraceView*> sub;
        for (size_t k : open) sub.push_back(batch[k]);
        policy->Evaluate(sub, start, &out);
        std::vector<size_t> still;
        for (size_t j = 0; j < open.size(); ++j) {
          verdicts[open[j]].push_back(out[j]);
          bool sampled = out[j].decision == tail::Decision::kSampled;
          if (!(config_.sample_on_first_match && sampled)) still.push_back(open[j]);
        }
        open.swap(still);
      }
    }
    for (size_t k = 0; k < batch.size(); ++k) {
      tail::Verdict v = tail::Combine(verdicts[k]);
      kept[undecided[k]] = v.decision == tail::Decision::kSampled;
      probability[undecided[k]] = v.probability;
    }
    decision_latency_->Observe(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  std::vector<Encoded> encoded;
  for (size_t i = 0; i < n; ++i) {
    if (!kept[i]) continue;
    for (auto [r, spans] : parts[i]) {
      encoded.push_back({EncodeWithThreshold(r, probability[i]), spans});
    }
  }
  auto finish = [this, ids = std::move(round.ids), records = std::move(round.records),
                 kept = std::move(kept), probability = std::move(probability)](absl::Status s) {
    FinishDecided(ids, records, kept, probability, s);
  };
  if (encoded.empty()) {
    finish(absl::OkStatus());
    return;
  }
  if (!wait) {
    Forward(std::move(encoded), std::move(finish));
    return;
  }
  auto done = std::make_shared<absl::Notification>();
  Forward(std::move(encoded), [finish = std::move(finish), done](absl::Status s) mutable {
    finish(std::move(s));
    done->Notify();
  });
  done->WaitForNotificationWithDeadline(deadline);
}

void TailSamplingProcessor::FinishDecided(const std::vector<TraceId>& ids,
                                          const std::vector<std::vector<RecordRef>>& records,
                                          const std::vector<bool>& kept,
                                          const std::vector<double>& probability,
                                          const absl::Status& forward) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = pending_.find(ids[i]);
    if (it == pending_.end()) continue;
    if (kept[i] && !forward.ok()) {
      // Downstream refused: the trace stays pending (and in the log) and is tried again.
      AccountLocked(it->second, -1);
      it->second.deciding = false;
      AccountLocked(it->second, +1);
      // (At shutdown it stays in the log for the next start.)
      if (!stopping_) retry_.emplace_back(absl::Now() + absl::Seconds(1), ids[i]);
      continue;
    }
    (kept[i] ? sampled_cache_ : not_sampled_cache_).Put(ids[i], probability[i]);
    decision_records_.push_back({ids[i], kept[i], probability[i], records[i].back().position});
    if (kept[i]) {
      ++counters_.traces_sampled;
      sampled_true_->Add(1);
    } else {
      ++counters_.traces_not_sampled;
      sampled_false_->Add(1);
    }
    DropRecordsLocked(ids[i], records[i].size());
  }
  if (!forward.ok()) {
    ++counters_.forward_failures;
    if (uint64_t k = error_log_.Add(1)) {
      spdlog::warn("{}: downstream refused kept traces ({}), retrying: {}", id_, k,
                   forward.ToString());
    }
  }
  traces_on_memory_->Set(static_cast<int64_t>(pending_.size()));
  buffer_bytes_->Set(static_cast<int64_t>(held_bytes_));
}

void TailSamplingProcessor::Forward(std::vector<Encoded> encoded, Completion done) {
  // Downstream requests of about kMaxForwardBytes (concatenated OTLP requests are one).
  std::vector<std::pair<absl::Cord, size_t>> chunks;
  absl::Cord current;
  size_t current_spans = 0;
  for (Encoded& e : encoded) {
    if (!current.empty() && current.size() + e.bytes.size() > kMaxForwardBytes) {
      chunks.emplace_back(std::move(current), current_spans);
      current = absl::Cord();
      current_spans = 0;
    }
    current.Append(std::move(e.bytes));
    current_spans += static_cast<size_t>(e.spans);
  }
  if (!current.empty()) chunks.emplace_back(std::move(current), current_spans);
  if (chunks.empty()) {
    std::move(done)(absl::OkStatus());
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    in_flight_forwards_ += static_cast<int64_t>(chunks.size());
  }
  auto join = std::make_shared<Join>(static_cast<int>(chunks.size()), std::move(done));
  for (auto& [wire, items] : chunks) {
    next_->Consume(Telemetry::FromWire(Signal::kTraces, std::move(wire), items),
                   [this, join](absl::Status s) {
                     join->Finish(std::move(s));
                     absl::MutexLock lock(&mu_);
                     --in_flight_forwards_;
                   });
  }
}

void TailSamplingProcessor::FlushDecisionRecords(bool wait) {
  std::vector<DecisionEntry> entries;
  {
    absl::MutexLock lock(&mu_);
    entries.swap(decision_records_);
  }
  if (entries.empty()) return;
  std::string record;
  record.reserve(1 + entries.size() * kDecisionEntry);
  record.push_back(static_cast<char>(kDecisionRecord));
  for (const DecisionEntry& e : entries) {
    record.append(e.id.Bytes());
    record.push_back(e.sampled ? 1 : 0);
    uint64_t bits;
    std::memcpy(&bits, &e.probability, 8);
    PutU64(&record, bits);
    PutU64(&record, e.last.segment);
    PutU64(&record, e.last.offset);
  }
  std::vector<absl::Cord> records{absl::Cord(std::move(record))};
  if (wait) {
    (void)log_->AppendAndWait(records);
  } else {
    log_->Append(records, [](absl::Status, storage::LogPosition, storage::LogPosition) {});
  }
}

void TailSamplingProcessor::CommitCursor() {
  storage::LogPosition cursor = log_->end();
  {
    absl::MutexLock lock(&mu_);
    if (!firsts_.empty()) cursor = std::min(cursor, firsts_.begin()->first);
    if (!append_floors_.empty()) cursor = std::min(cursor, *append_floors_.begin());
    if (cursor <= committed_) return;
    committed_ = cursor;
    traces_on_memory_->Set(static_cast<int64_t>(pending_.size()));
    buffer_bytes_->Set(static_cast<int64_t>(held_bytes_));
  }
  if (absl::Status s = log_->CommitCursor(kReader, cursor); !s.ok()) {
    if (uint64_t k = error_log_.Add(1)) {
      spdlog::error("{}: could not persist the buffer's cursor ({}): {}", id_, k, s.ToString());
    }
  }
}

void TailSamplingProcessor::Shutdown(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (decider_.joinable()) decider_.join();
  if (log_ == nullptr) return;
  if (!config_.drop_pending_traces_on_shutdown) {
    // Decide everything pending now, with what has arrived, and hand what is kept on. The
    // service gives processors no time to wait for downstream (exporters answer in their own
    // Shutdown, after this); the decisions are logged when the answers come (destructor).
    // Deciding is bounded too: what is left stays in the log for the next start.
    const absl::Time work_deadline = std::max(deadline, absl::Now() + absl::Seconds(10));
    while (absl::Now() < work_deadline) {
      Round round;
      {
        absl::MutexLock lock(&mu_);
        round = TakeDueLocked(absl::Now(), true, kMaxRound);
      }
      if (round.ids.empty()) break;
      DecideRound(std::move(round), deadline, false);
    }
  }
  {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return in_flight_forwards_ == 0 && appends_in_flight_ == 0;
    };
    mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
  }
  FlushDecisionRecords(true);
  CommitCursor();
}

tail::TailCounters TailSamplingProcessor::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}
size_t TailSamplingProcessor::pending_traces() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}
uint64_t TailSamplingProcessor::held_bytes() const {
  absl::MutexLock lock(&mu_);
  return held_bytes_;
}
uint64_t TailSamplingProcessor::peak_held_bytes() const {
  absl::MutexLock lock(&mu_);
  return peak_held_bytes_;
}
uint64_t TailSamplingProcessor::index_bytes() const {
  absl::MutexLock lock(&mu_);
  return index_bytes_;
}
int64_t TailSamplingProcessor::pending_spans() const {
  absl::MutexLock lock(&mu_);
  return pending_spans_;
}
storage::LogStats TailSamplingProcessor::log_stats() const { return log_->stats(); }

}  // namespace otlpd
