#include "storage/tiered_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/otlp_wire.h"
#include "storage/attribute_text.h"
#include "storage/log_block.h"
#include "storage/log_words.h"
#include "storage/record_block.h"
#include "storage/s3_block_tier.h"
#include "storage/trace_block.h"

namespace otlpd::storage {

namespace {

// A hot log record: [format u8 = 1][signal u8][receive time, unix ns, i64][OTLP request].
constexpr uint8_t kRecordFormat = 1;
constexpr size_t kRecordHeader = 10;

std::string RecordHeader(Signal signal, int64_t receive_ns) {
  std::string h(kRecordHeader, '\0');
  h[0] = static_cast<char>(kRecordFormat);
  h[1] = static_cast<char>(signal);
  std::memcpy(h.data() + 2, &receive_ns, 8);
  return h;
}

bool ParseRecordHeader(std::string_view payload, Signal* signal, int64_t* receive_ns) {
  if (payload.size() < kRecordHeader || payload[0] != static_cast<char>(kRecordFormat) ||
      static_cast<uint8_t>(payload[1]) > 2) {
    return false;
  }
  *signal = static_cast<Signal>(payload[1]);
  std::memcpy(receive_ns, payload.data() + 2, 8);
  return true;
}

LogPosition SourceEnd(const BlockMeta& m) {
  return {m.source_log_segment(), m.source_log_offset()};
}

// What a migration step learns about the items of one signal while it builds a block.
struct StepSummary {
  int64_t min_time = INT64_MAX, max_time = INT64_MIN;
  int64_t min_receive = INT64_MAX, max_receive = INT64_MIN;
  uint64_t items = 0;
  uint64_t input_bytes = 0;
  std::set<std::string> services;
  std::set<std::string> metric_names;
  WordBloom words;  // of log bodies

  void Time(uint64_t t) {
    min_time = std::min(min_time, static_cast<int64_t>(t));
    max_time = std::max(max_time, static_cast<int64_t>(t));
  }
  void Receive(int64_t ns, size_t bytes) {
    min_receive = std::min(min_receive, ns);
    max_receive = std::max(max_receive, ns);
    input_bytes += bytes;
  }
  void Fill(BlockMeta* m) const {
    m->set_min_time_unix_nano(min_time);
    m->set_max_time_unix_nano(max_time);
    m->set_min_receive_unix_nano(min_receive);
    m->set_max_receive_unix_nano(max_receive);
    m->set_items(items);
    m->set_input_bytes(input_bytes);
    for (const std::string& s : services) m->add_services(s);
    for (const std::string& n : metric_names) m->add_metric_names(n);
    m->set_word_bloom(words.Finish());
  }
};

template <class Points>
void PointTimes(const Points& points, StepSummary* sum) {
  for (const auto& p : points) {
    sum->Time(p.time_unix_nano());
    sum->items++;
  }
}

void SummarizeMetrics(const HotIndex::MetricsRequest& req, StepSummary* sum) {
  using opentelemetry::proto::metrics::v1::Metric;
  for (const auto& rm : req.resource_metrics()) {
    sum->services.insert(ServiceName(rm.resource()));
    for (const auto& sm : rm.scope_metrics()) {
      for (const Metric& m : sm.metrics()) {
        sum->metric_names.insert(m.name());
        switch (m.data_case()) {
          case Metric::kGauge:
            PointTimes(m.gauge().data_points(), sum);
            break;
          case Metric::kSum:
            PointTimes(m.sum().data_points(), sum);
            break;
          case Metric::kHistogram:
            PointTimes(m.histogram().data_points(), sum);
            break;
          case Metric::kExponentialHistogram:
            PointTimes(m.exponential_histogram().data_points(), sum);
            break;
          case Metric::kSummary:
            PointTimes(m.summary().data_points(), sum);
            break;
          default:
            break;
        }
      }
    }
  }
}

void SummarizeLogs(const HotIndex::LogsRequest& req, StepSummary* sum) {
  for (const auto& rl : req.resource_logs()) {
    sum->services.insert(ServiceName(rl.resource()));
    for (const auto& sl : rl.scope_logs()) {
      for (const auto& lr : sl.log_records()) {
        sum->Time(lr.time_unix_nano() != 0 ? lr.time_unix_nano() : lr.observed_time_unix_nano());
        sum->items++;
        for (const std::string& w : LogWords(AttributeText(lr.body()))) sum->words.Add(w);
      }
    }
  }
}

constexpr uint64_t kReaderCacheBytes = uint64_t{1} << 30;

}  // namespace

TieredStore::TieredStore(TieredStoreOptions options) : options_(std::move(options)) {}

TieredStore::~TieredStore() {
  {
    absl::MutexLock lock(&stop_mu_);
    stopping_ = true;
  }
  if (lifecycle_.joinable()) lifecycle_.join();
}

absl::StatusOr<std::unique_ptr<TieredStore>> TieredStore::Open(TieredStoreOptions options) {
  if (options.directory.empty()) return absl::InvalidArgumentError("directory must be set");
  std::unique_ptr<TieredStore> store(new TieredStore(std::move(options)));
  if (absl::Status s = store->Recover(); !s.ok()) return s;
  store->lifecycle_ = std::thread([s = store.get()] { s->LifecycleLoop(); });
  return store;
}

absl::Status TieredStore::Recover() {
  const absl::Time started = absl::Now();
  SegmentLogOptions lo;
  lo.segment_bytes = options_.hot.segment_bytes;
  lo.durability = options_.hot.durability;
  lo.group_commit_interval = options_.hot.group_commit_interval;
  lo.max_bytes = options_.hot.max_size;
  absl::StatusOr<std::unique_ptr<SegmentLog>> log =
      SegmentLog::Open(options_.directory + "/hot", lo);
  if (!log.ok()) return log.status();
  log_ = std::move(*log);
  absl::StatusOr<std::unique_ptr<BlockDir>> warm = BlockDir::Open(options_.directory + "/warm");
  if (!warm.ok()) return warm.status();
  warm_ = std::move(*warm);
  if (options_.cold.enabled) {
    absl::StatusOr<std::unique_ptr<BlockTier>> cold;
    if (options_.cold.s3) {
      cold = S3BlockTier::Open(*options_.cold.s3);
    } else {
      cold = BlockDir::Open(options_.cold.path.empty() ? options_.directory + "/cold"
                                                       : options_.cold.path);
    }
    if (!cold.ok()) {
      return absl::Status(cold.status().code(),
                          absl::StrCat("cold tier: ", cold.status().message()));
    }
    cold_ = *std::move(cold);
    cold_quarantined_ = cold_->problems().size();
    // A recompaction that died after its cold block became visible: its warm sources go.
    for (const BlockMeta& m : cold_->List()) {
      for (uint64_t source : m.source_blocks()) {
        if (absl::Status s = warm_->Delete(source); !s.ok()) return s;
      }
    }
  }
  warm_quarantined_ = warm_->problems().size();

  // Blocks of a migration step are kept only when the whole step is there; the newest
  // complete step says where the hot log's unmigrated data starts.
  std::map<LogPosition, std::vector<BlockMeta>> steps;
  for (BlockMeta& m : warm_->List()) steps[SourceEnd(m)].push_back(std::move(m));
  absl::StatusOr<LogPosition> cursor = log_->RegisterReader("warm");
  if (!cursor.ok()) return cursor.status();
  LogPosition from = *cursor;
  absl::MutexLock lock(&mu_);
  for (auto& [end, blocks] : steps) {
    // A step the cursor has passed is committed: its blocks stay even when some of them
    // have since gone (retention, recompaction into cold).
    if (end > *cursor && blocks.size() < blocks.front().step_blocks()) {
      spdlog::warn(
          "tiered storage {}: dropping {} block(s) of a migration step a crash cut "
          "short (their data is still in the hot log)",
          options_.directory, blocks.size());
      for (const BlockMeta& m : blocks) {
        if (absl::Status s = warm_->Delete(m.id()); !s.ok()) return s;
      }
      continue;
    }
    from = std::max(from, end);
    for (BlockMeta& m : blocks) warm_blocks_[m.id()] = std::move(m);
  }
  if (cold_ != nullptr) {
    for (BlockMeta& m : cold_->List()) cold_blocks_[m.id()] = std::move(m);
  }
  if (from != *cursor) {
    // A step finished writing its blocks but died before moving the cursor: finish it.
    if (absl::Status s = log_->CommitCursor("warm", from); !s.ok()) return s;
  }

  std::vector<LogRecord> batch;
  uint64_t skipped = 0;
  LogPosition pos = from;
  while (true) {
    batch.clear();
    LogPosition next;
    if (absl::Status s = log_->Read(pos, 256, 64 << 20, &batch, &next); !s.ok()) return s;
    if (batch.empty()) break;
    for (const LogRecord& r : batch) {
      Signal signal;
      int64_t receive_ns;
      std::string_view request =
          std::string_view(r.payload).substr(std::min(kRecordHeader, r.payload.size()));
      if (!ParseRecordHeader(r.payload, &signal, &receive_ns) ||
          !ScanOtlpRequest(signal, request).ok()) {
        ++skipped;
        continue;
      }
      IndexRecord(signal, receive_ns, request, r.position, r.next, r.payload.size());
    }
    pos = next;
  }
  if (skipped > 0) {
    spdlog::error("tiered storage {}: {} records of the hot log could not be decoded; skipped",
                  options_.directory, skipped);
  }
  spdlog::info(
      "tiered storage {}: ready in {} ms: hot {} spans, {} log records, {} points; "
      "warm {} blocks",
      options_.directory, absl::ToInt64Milliseconds(absl::Now() - started), index_.spans(),
      index_.log_records(), index_.metric_points(), warm_blocks_.size());
  return absl::OkStatus();
}

void TieredStore::IndexRecord(Signal signal, int64_t receive_ns, std::string_view request,
                              LogPosition position, LogPosition next, size_t bytes) {
  const uint64_t number = first_record_ + records_.size();
  switch (signal) {
    case Signal::kTraces:
      index_.AddTraces(number, request);
      break;
    case Signal::kLogs:
      index_.AddLogs(number, request);
      break;
    case Signal::kMetrics:
      index_.AddMetrics(number, request);
      break;
  }
  records_.push_back({position, next, receive_ns, static_cast<uint32_t>(bytes), signal});
}

void TieredStore::Append(Signal signal, const absl::Cord& request, Done done, bool checked) {
  const int64_t receive_ns = absl::ToUnixNanos(absl::Now());
  // One flat copy (header + request) serves the log's write and the index, which reads
  // the request's fields straight from these bytes once the log says they are durable.
  auto record = std::make_shared<std::string>(RecordHeader(signal, receive_ns));
  record->reserve(kRecordHeader + request.size());
  for (absl::string_view chunk : request.Chunks()) record->append(chunk.data(), chunk.size());
  const std::string_view wire = std::string_view(*record).substr(kRecordHeader);
  if (!checked) {
    if (absl::StatusOr<WireScan> scan = ScanOtlpRequest(signal, wire); !scan.ok()) {
      std::move(done)(absl::InvalidArgumentError(
          absl::StrCat("request does not decode as OTLP protobuf: ", scan.status().message())));
      return;
    }
  }
  absl::Cord payload =
      absl::MakeCordFromExternal(absl::string_view(record->data(), record->size()), [record] {});
  // Completions come in log order (SegmentLog), so records_ stays in log order.
  log_->Append({std::move(payload)},
               [this, signal, receive_ns, record, wire, done = std::move(done)](
                   absl::Status status, LogPosition first, LogPosition end) mutable {
                 if (status.ok()) {
                   absl::MutexLock lock(&mu_);
                   IndexRecord(signal, receive_ns, wire, first, end, record->size());
                 }
                 std::move(done)(std::move(status));
               });
}

TierStats TieredStore::hot_stats() const {
  TierStats st;
  LogStats ls = log_->stats();
  st.bytes = ls.bytes;
  st.blocks = ls.segments;
  st.health = ls.health;
  st.quarantined = ls.health.quarantined_records;
  absl::ReaderMutexLock lock(&mu_);
  st.spans = index_.spans();
  st.log_records = index_.log_records();
  st.metric_points = index_.metric_points();
  st.records = records_.size();
  if (!records_.empty()) {
    st.oldest = absl::FromUnixNanos(records_.front().receive_ns);
    st.migration_lag =
        std::max(absl::ZeroDuration(), absl::Now() - st.oldest - options_.hot.max_age);
  }
  return st;
}

namespace {

TierStats BlockTierStats(const std::map<uint64_t, BlockMeta>& blocks) {
  TierStats st;
  for (const auto& [id, m] : blocks) {
    st.bytes += m.block_bytes();
    st.blocks++;
    switch (static_cast<Signal>(m.signal())) {
      case Signal::kTraces:
        st.spans += m.items();
        break;
      case Signal::kLogs:
        st.log_records += m.items();
        break;
      case Signal::kMetrics:
        st.metric_points += m.items();
        break;
    }
    st.oldest = std::min(st.oldest, absl::FromUnixNanos(m.min_receive_unix_nano()));
  }
  return st;
}

}  // namespace

TierStats TieredStore::warm_stats() const {
  TierStats st;
  {
    absl::ReaderMutexLock lock(&mu_);
    st = BlockTierStats(warm_blocks_);
  }
  st.expired_items = warm_expired_.load();
  st.quarantined = warm_quarantined_.load();
  if (cold_ != nullptr && st.oldest != absl::InfiniteFuture()) {
    st.migration_lag = std::max(
        absl::ZeroDuration(), absl::Now() - st.oldest - options_.hot.max_age - options_.cold.after);
  }
  return st;
}

TierStats TieredStore::cold_stats() const {
  TierStats st;
  {
    absl::ReaderMutexLock lock(&mu_);
    st = BlockTierStats(cold_blocks_);
  }
  st.expired_items = cold_expired_.load();
  st.quarantined = cold_quarantined_.load();
  return st;
}

std::vector<LogPosition> TieredStore::Positions(const std::vector<uint64_t>& records) const {
  std::vector<LogPosition> out;
  for (uint64_t r : records) {
    if (r >= first_record_ && r - first_record_ < records_.size()) {
      out.push_back(records_[r - first_record_].position);
    }
  }
  return out;
}

absl::StatusOr<TieredStore::StoredRecord> TieredStore::ReadRecord(LogPosition position) const {
  std::vector<LogRecord> recs;
  LogPosition next;
  if (absl::Status s = log_->Read(position, 1, 1, &recs, &next); !s.ok()) return s;
  StoredRecord out;
  if (recs.empty() || recs[0].position != position ||
      !ParseRecordHeader(recs[0].payload, &out.signal, &out.receive_ns)) {
    return absl::DataLossError(
        absl::StrCat("hot log record at ", position.ToString(), " is damaged"));
  }
  out.request = recs[0].payload.substr(kRecordHeader);
  return out;
}

TieredStore::Snapshot TieredStore::TakeSnapshot() const {
  Snapshot s;
  for (auto it = warm_blocks_.rbegin(); it != warm_blocks_.rend(); ++it) {
    s.blocks.push_back({it->second, false});
  }
  for (auto it = cold_blocks_.rbegin(); it != cold_blocks_.rend(); ++it) {
    s.blocks.push_back({it->second, true});
  }
  return s;
}

// --- lifecycle -------------------------------------------------------------------------

void TieredStore::LifecycleLoop() {
  while (true) {
    {
      absl::MutexLock lock(&stop_mu_);
      if (stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.lifecycle_interval)) {
        return;
      }
    }
    absl::StatusOr<size_t> moved = RunLifecycle(/*flush=*/false);
    if (!moved.ok()) {
      spdlog::error("tiered storage {}: lifecycle: {}", options_.directory,
                    moved.status().ToString());
    }
  }
}

absl::StatusOr<size_t> TieredStore::RunLifecycle(bool flush) {
  absl::MutexLock lock(&lifecycle_mu_);
  size_t total = 0;
  // A pass moves everything due (bounded, in case data arrives faster than it moves).
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<size_t> moved = MigrateOnce(flush);
    if (!moved.ok()) return moved.status();
    if (*moved == 0) break;
    total += *moved;
  }
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<size_t> moved = MoveToColdOnce();
    if (!moved.ok()) return moved.status();
    if (*moved == 0) break;
  }
  if (absl::Status s = EnforceBudgets(); !s.ok()) return s;
  return total;
}

void TieredStore::Throttle(uint64_t bytes, absl::Time since) {
  if (options_.lifecycle_io_rate == 0) return;
  const absl::Duration want =
      absl::Seconds(static_cast<double>(bytes) / static_cast<double>(options_.lifecycle_io_rate));
  const absl::Duration left = want - (absl::Now() - since);
  if (left <= absl::ZeroDuration()) return;
  absl::MutexLock lock(&stop_mu_);
  stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), left);
}

absl::StatusOr<size_t> TieredStore::MigrateOnce(bool flush) {
  const absl::Time step_start = absl::Now();
  std::vector<RecordRef> take;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (records_.empty()) return 0;
    const int64_t cutoff = absl::ToUnixNanos(absl::Now() - options_.hot.max_age);
    const uint64_t hot_bytes = log_->stats().bytes;
    const uint64_t budget = options_.hot.max_size;
    const uint64_t must_free = hot_bytes > budget / 4 * 3 ? hot_bytes - budget / 2 : 0;
    const int64_t window =
        std::max<int64_t>(1, absl::ToInt64Nanoseconds(options_.warm.block_window));
    const int64_t first_window = records_.front().receive_ns / window;
    uint64_t input = 0;
    bool window_done = false, full = false;
    for (const RecordRef& r : records_) {
      if (r.receive_ns >= cutoff && input >= must_free) break;  // not due yet
      if (r.receive_ns / window != first_window) {
        window_done = true;  // every record of the first window is in `take`
        break;
      }
      if (!take.empty() && input + r.bytes > options_.warm.max_block_input) {
        full = true;
        break;
      }
      take.push_back(r);
      input += r.bytes;
    }
    // A block covers its whole window (or max_block_input): while the window still
    // receives data and there is no pressure, wait rather than write a small block.
    const bool window_complete = window_done || (first_window + 1) * window <= cutoff;
    if (!flush && !window_complete && !full && must_free == 0) take.clear();
  }
  if (take.empty()) return 0;
  const LogPosition end = take.back().next;

  TraceBlockBuilder traces;
  LogBlockBuilder logs;
  RecordBlockBuilder metrics;
  StepSummary trace_sum, log_sum, metric_sum;
  uint64_t damaged = 0;
  for (const RecordRef& r : take) {
    absl::StatusOr<StoredRecord> rec = ReadRecord(r.position);
    if (!rec.ok()) {
      ++damaged;  // quarantined and counted by the log
      continue;
    }
    switch (rec->signal) {
      case Signal::kTraces: {
        HotIndex::TracesRequest req;
        if (!req.ParseFromString(rec->request)) {
          ++damaged;
          break;
        }
        trace_sum.Receive(rec->receive_ns, rec->request.size());
        for (const auto& rs : req.resource_spans()) {
          trace_sum.services.insert(ServiceName(rs.resource()));
          for (const auto& ss : rs.scope_spans()) {
            for (const auto& span : ss.spans()) {
              trace_sum.Time(span.start_time_unix_nano());
              trace_sum.Time(span.end_time_unix_nano());
              trace_sum.items++;
            }
          }
          traces.Add(rs);
        }
        break;
      }
      case Signal::kLogs: {
        HotIndex::LogsRequest req;
        if (!req.ParseFromString(rec->request)) {
          ++damaged;
          break;
        }
        log_sum.Receive(rec->receive_ns, rec->request.size());
        SummarizeLogs(req, &log_sum);
        logs.Add(rec->receive_ns, req);
        break;
      }
      case Signal::kMetrics: {
        HotIndex::MetricsRequest req;
        if (!req.ParseFromString(rec->request)) {
          ++damaged;
          break;
        }
        metric_sum.Receive(rec->receive_ns, rec->request.size());
        SummarizeMetrics(req, &metric_sum);
        metrics.Add(Signal::kMetrics, rec->receive_ns, rec->request);
        break;
      }
    }
  }
  if (damaged > 0) {
    spdlog::error("tiered storage {}: {} damaged hot records left out of migration",
                  options_.directory, damaged);
  }

  struct Pending {
    BlockMeta meta;
    std::string bytes;
  };
  std::vector<Pending> blocks;
  const int level = options_.warm.compression_level;
  if (traces.span_count() > 0) {
    TraceBlockMeta tm;
    absl::StatusOr<std::string> bytes = traces.Finish(level, &tm);
    if (!bytes.ok()) return bytes.status();
    Pending p;
    p.meta.set_signal(static_cast<uint32_t>(Signal::kTraces));
    p.meta.set_format("trace_block");
    p.meta.set_format_meta(tm.Encode());
    trace_sum.Fill(&p.meta);
    p.bytes = *std::move(bytes);
    blocks.push_back(std::move(p));
  }
  auto add_block = [&](Signal signal, std::string_view format, const StepSummary& sum,
                       absl::StatusOr<std::string> bytes) {
    if (!bytes.ok()) return bytes.status();
    Pending p;
    p.meta.set_signal(static_cast<uint32_t>(signal));
    p.meta.set_format(std::string(format));
    sum.Fill(&p.meta);
    p.bytes = *std::move(bytes);
    blocks.push_back(std::move(p));
    return absl::OkStatus();
  };
  if (logs.request_count() > 0) {
    absl::Status s = add_block(Signal::kLogs, kLogBlockFormat, log_sum, logs.Finish(level));
    if (!s.ok()) return s;
  }
  if (metrics.count() > 0) {
    absl::Status s =
        add_block(Signal::kMetrics, kRecordBlockFormat, metric_sum, metrics.Finish(level));
    if (!s.ok()) return s;
  }

  std::vector<BlockMeta> written;
  for (Pending& p : blocks) {
    p.meta.set_source_log_segment(end.segment);
    p.meta.set_source_log_offset(end.offset);
    p.meta.set_step_blocks(static_cast<uint32_t>(blocks.size()));
    absl::StatusOr<BlockMeta> meta = warm_->Write(std::move(p.meta), p.bytes);
    if (!meta.ok()) {
      for (const BlockMeta& w : written) (void)warm_->Delete(w.id());
      return meta.status();
    }
    written.push_back(*std::move(meta));
  }
  {
    // Visible in warm and gone from hot in one step for queries.
    absl::MutexLock lock(&mu_);
    for (const BlockMeta& m : written) warm_blocks_[m.id()] = m;
    first_record_ += take.size();
    records_.erase(records_.begin(), records_.begin() + static_cast<ptrdiff_t>(take.size()));
    index_.DropBefore(first_record_);
  }
  if (absl::Status s = log_->CommitCursor("warm", end); !s.ok()) return s;
  uint64_t moved_bytes = 0;
  for (const RecordRef& r : take) moved_bytes += r.bytes;
  for (const Pending& p : blocks) moved_bytes += p.bytes.size();
  Throttle(moved_bytes, step_start);
  return take.size();
}

absl::StatusOr<size_t> TieredStore::MoveToColdOnce() {
  if (cold_ == nullptr) return 0;
  const absl::Time step_start = absl::Now();
  // Oldest first: the first warm block due for cold decides the signal; the next due
  // blocks of that signal join it, up to max_block_input of OTLP.
  std::vector<BlockMeta> sources;
  {
    absl::ReaderMutexLock lock(&mu_);
    const int64_t cutoff = absl::ToUnixNanos(absl::Now() - options_.cold.after);
    uint64_t bytes = 0;
    for (const auto& [id, m] : warm_blocks_) bytes += m.block_bytes();
    const uint64_t budget = options_.warm.max_size;
    uint64_t input = 0;
    for (const auto& [id, m] : warm_blocks_) {
      const bool due = m.max_receive_unix_nano() < cutoff || (budget > 0 && bytes > budget);
      if (!due) break;
      bytes -= m.block_bytes();
      if (!sources.empty() && (m.signal() != sources.front().signal() ||
                               input + m.input_bytes() > options_.cold.max_block_input)) {
        continue;
      }
      sources.push_back(m);
      input += m.input_bytes();
    }
  }
  if (sources.empty()) return 0;

  const Signal signal = static_cast<Signal>(sources.front().signal());
  TraceBlockBuilder traces;
  LogBlockBuilder logs;
  RecordBlockBuilder records;
  BlockMeta meta;
  meta.set_signal(sources.front().signal());
  // Logs always leave as a log block, whatever format their warm blocks had.
  meta.set_format(signal == Signal::kLogs ? std::string(kLogBlockFormat)
                                          : sources.front().format());
  meta.set_min_time_unix_nano(INT64_MAX);
  meta.set_max_time_unix_nano(INT64_MIN);
  meta.set_min_receive_unix_nano(INT64_MAX);
  meta.set_max_receive_unix_nano(INT64_MIN);
  std::set<std::string> services, names;
  WordBloom words;
  std::vector<BlockMeta> used;
  for (const BlockMeta& m : sources) {
    absl::StatusOr<std::string> bytes = ReadBlock({m, false});
    absl::Status status = bytes.status();
    if (status.ok() && signal == Signal::kTraces) {
      absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(*std::move(bytes));
      status = reader.ok() ? reader->ForEach([&](auto&& rs) {
        traces.Add(rs);
        return absl::OkStatus();
      })
                           : reader.status();
    } else if (status.ok() && signal == Signal::kLogs) {
      status = ForEachLogsRequestIn(
          m.format(), *std::move(bytes), [&](int64_t receive_ns, HotIndex::LogsRequest&& req) {
            for (const auto& rl : req.resource_logs()) {
              for (const auto& sl : rl.scope_logs()) {
                for (const auto& lr : sl.log_records()) {
                  for (const std::string& w : LogWords(AttributeText(lr.body()))) words.Add(w);
                }
              }
            }
            logs.Add(receive_ns, req);
          });
    } else if (status.ok()) {
      status = ForEachRecord(*bytes, [&](Signal sig, int64_t receive_ns, std::string_view req) {
        records.Add(sig, receive_ns, req);
      });
    }
    if (!status.ok()) {
      // A damaged block stays where it is (skipped by queries, counted); the rest moves on.
      spdlog::error("tiered storage {}: warm block {} not moved to cold: {}", options_.directory,
                    m.id(), status.ToString());
      continue;
    }
    used.push_back(m);
    meta.set_min_time_unix_nano(std::min(meta.min_time_unix_nano(), m.min_time_unix_nano()));
    meta.set_max_time_unix_nano(std::max(meta.max_time_unix_nano(), m.max_time_unix_nano()));
    meta.set_min_receive_unix_nano(
        std::min(meta.min_receive_unix_nano(), m.min_receive_unix_nano()));
    meta.set_max_receive_unix_nano(
        std::max(meta.max_receive_unix_nano(), m.max_receive_unix_nano()));
    meta.set_items(meta.items() + m.items());
    meta.set_input_bytes(meta.input_bytes() + m.input_bytes());
    services.insert(m.services().begin(), m.services().end());
    names.insert(m.metric_names().begin(), m.metric_names().end());
    meta.add_source_blocks(m.id());
  }
  if (used.empty()) return 0;
  for (const std::string& v : services) meta.add_services(v);
  for (const std::string& v : names) meta.add_metric_names(v);
  meta.set_word_bloom(words.Finish());
  absl::StatusOr<std::string> block;
  if (signal == Signal::kTraces) {
    TraceBlockMeta tm;
    block = traces.Finish(options_.cold.compression_level, &tm);
    if (block.ok()) meta.set_format_meta(tm.Encode());
  } else if (signal == Signal::kLogs) {
    block = logs.Finish(options_.cold.compression_level);
  } else {
    block = records.Finish(options_.cold.compression_level);
  }
  if (!block.ok()) return block.status();
  absl::StatusOr<BlockMeta> written = cold_->Write(std::move(meta), *block);
  if (!written.ok()) return written.status();
  {
    // Visible in cold and gone from warm in one step for queries.
    absl::MutexLock lock(&mu_);
    cold_blocks_[written->id()] = *written;
    for (const BlockMeta& m : used) warm_blocks_.erase(m.id());
  }
  uint64_t moved_bytes = block->size();
  for (const BlockMeta& m : used) {
    moved_bytes += m.block_bytes();
    Forget({m, false});
    if (absl::Status s = warm_->Delete(m.id()); !s.ok()) return s;
  }
  Throttle(moved_bytes, step_start);
  return used.size();
}

void TieredStore::Forget(const BlockRef& block) {
  const uint64_t key = block.meta.id() * 2 + (block.cold ? 1 : 0);
  absl::MutexLock lock(&cache_mu_);
  for (auto it = readers_.begin(); it != readers_.end(); ++it) {
    if (it->key == key) {
      reader_bytes_ -= it->bytes;
      readers_.erase(it);
      return;
    }
  }
}

absl::Status TieredStore::EnforceBudgets() {
  // Without a cold tier, warm's retention and size budget delete its oldest blocks; with
  // one, warm blocks move on instead (MoveToColdOnce) and cold's retention deletes.
  std::vector<BlockRef> doomed;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto pick = [&](const std::map<uint64_t, BlockMeta>& blocks, absl::Duration retention,
                    const std::array<std::optional<absl::Duration>, 3>& by_signal,
                    uint64_t max_size, bool cold) {
      uint64_t bytes = 0;
      for (const auto& [id, m] : blocks) bytes += m.block_bytes();
      const absl::Time now = absl::Now();
      for (const auto& [id, m] : blocks) {  // oldest first
        const absl::Duration keep =
            m.signal() < 3 ? by_signal[m.signal()].value_or(retention) : retention;
        bool expired = keep > absl::ZeroDuration() &&
                       m.max_receive_unix_nano() < absl::ToUnixNanos(now - keep);
        bool over = max_size > 0 && bytes > max_size;
        if (!expired && !over) continue;
        bytes -= m.block_bytes();
        doomed.push_back({m, cold});
      }
    };
    if (cold_ == nullptr) {
      pick(warm_blocks_, options_.warm.retention, options_.warm.signal_retention,
           options_.warm.max_size, false);
    } else {
      pick(cold_blocks_, options_.cold.retention, options_.cold.signal_retention, 0, true);
    }
  }
  for (const BlockRef& b : doomed) {
    {
      absl::MutexLock lock(&mu_);
      (b.cold ? cold_blocks_ : warm_blocks_).erase(b.meta.id());
    }
    Forget(b);
    if (absl::Status s = b.cold ? cold_->Delete(b.meta.id()) : warm_->Delete(b.meta.id());
        !s.ok()) {
      return s;
    }
    (b.cold ? cold_expired_ : warm_expired_) += b.meta.items();
    spdlog::info("tiered storage {}: deleted {} block {} ({} items) by retention/size budget",
                 options_.directory, b.cold ? "cold" : "warm", b.meta.id(), b.meta.items());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TieredStore::ReadBlock(const BlockRef& block) const {
  absl::StatusOr<std::string> bytes =
      block.cold ? cold_->Read(block.meta.id()) : warm_->Read(block.meta.id());
  if (bytes.status().code() == absl::StatusCode::kDataLoss) {
    (block.cold ? cold_quarantined_ : warm_quarantined_)++;
    spdlog::error("tiered storage {}: {}; block skipped", options_.directory,
                  bytes.status().ToString());
  }
  return bytes;
}

absl::StatusOr<std::shared_ptr<const TraceBlockReader>> TieredStore::TraceReader(
    const BlockRef& block) const {
  const uint64_t key = block.meta.id() * 2 + (block.cold ? 1 : 0);
  {
    absl::MutexLock lock(&cache_mu_);
    for (auto it = readers_.begin(); it != readers_.end(); ++it) {
      if (it->key == key) {
        readers_.splice(readers_.end(), readers_, it);  // most recently used last
        return readers_.back().reader;
      }
    }
  }
  absl::StatusOr<std::string> bytes = ReadBlock(block);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(*std::move(bytes));
  if (!reader.ok()) {
    (block.cold ? cold_quarantined_ : warm_quarantined_)++;
    return reader.status();
  }
  auto shared = std::make_shared<const TraceBlockReader>(*std::move(reader));
  absl::MutexLock lock(&cache_mu_);
  // An open reader keeps the block and, once used, its decoded columns (~64 B/span).
  const uint64_t cost = block.meta.block_bytes() + block.meta.items() * 64;
  readers_.push_back({key, cost, shared});
  reader_bytes_ += cost;
  while (reader_bytes_ > kReaderCacheBytes && readers_.size() > 1) {
    reader_bytes_ -= readers_.front().bytes;
    readers_.pop_front();
  }
  return shared;
}

}  // namespace otlpd::storage
