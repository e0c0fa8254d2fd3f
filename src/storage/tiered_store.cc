#include "storage/tiered_store.h"

#include <google/protobuf/arena.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/otlp_wire.h"
#include "storage/attribute_text.h"

namespace otlpd::storage {

namespace {

using opentelemetry::proto::logs::v1::LogsData;
using opentelemetry::proto::metrics::v1::MetricsData;
using opentelemetry::proto::trace::v1::TracesData;

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

template <class Request>
std::unique_ptr<Request> Parse(std::string_view bytes) {
  auto req = std::make_unique<Request>();
  if (!req->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return nullptr;
  return req;
}

// Words of a log body for word search: runs of letters and digits, lower-cased.
std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      cur.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

template <class Point>
bool PointMatches(const Point& p, const MetricQuery& q,
                  const opentelemetry::proto::resource::v1::Resource& resource) {
  absl::Time t = absl::FromUnixNanos(static_cast<int64_t>(p.time_unix_nano()));
  if (!q.time.Contains(t)) return false;
  for (const auto& [k, v] : q.match) {
    bool found = false;
    for (const auto& kv : p.attributes()) {
      if (kv.key() == k && AttributeText(kv.value()) == v) found = true;
    }
    for (const auto& kv : resource.attributes()) {
      if (!found && kv.key() == k && AttributeText(kv.value()) == v) found = true;
    }
    if (!found) return false;
  }
  return true;
}

// Keeps only the points that match; false when none is left.
template <class Points>
bool FilterPoints(Points* points, const MetricQuery& q,
                  const opentelemetry::proto::resource::v1::Resource& resource) {
  int kept = 0;
  for (int i = 0; i < points->size(); ++i) {
    if (PointMatches(points->Get(i), q, resource)) points->SwapElements(i, kept++);
  }
  while (points->size() > kept) points->RemoveLast();
  return kept > 0;
}

}  // namespace

TieredStore::TieredStore(TieredStoreOptions options) : options_(std::move(options)) {}

TieredStore::~TieredStore() = default;

absl::StatusOr<std::unique_ptr<TieredStore>> TieredStore::Open(TieredStoreOptions options) {
  if (options.directory.empty()) return absl::InvalidArgumentError("directory must be set");
  std::unique_ptr<TieredStore> store(new TieredStore(std::move(options)));
  if (absl::Status s = store->Recover(); !s.ok()) return s;
  return store;
}

absl::Status TieredStore::Recover() {
  SegmentLogOptions lo;
  lo.segment_bytes = options_.hot.segment_bytes;
  lo.durability = options_.hot.durability;
  lo.group_commit_interval = options_.hot.group_commit_interval;
  lo.max_bytes = options_.hot.max_size;
  absl::StatusOr<std::unique_ptr<SegmentLog>> log =
      SegmentLog::Open(options_.directory + "/hot", lo);
  if (!log.ok()) return log.status();
  log_ = std::move(*log);
  // Everything from the oldest record still in the tier on is indexed again.
  absl::StatusOr<LogPosition> from = log_->RegisterReader("warm");
  if (!from.ok()) return from.status();
  const absl::Time started = absl::Now();
  LogPosition pos = *from;
  std::vector<LogRecord> batch;
  uint64_t skipped = 0;
  absl::MutexLock lock(&mu_);
  while (true) {
    batch.clear();
    LogPosition next;
    if (absl::Status s = log_->Read(pos, 256, 64 << 20, &batch, &next); !s.ok()) return s;
    if (batch.empty()) break;
    for (const LogRecord& r : batch) {
      if (r.payload.size() < kRecordHeader || r.payload[0] != static_cast<char>(kRecordFormat) ||
          static_cast<uint8_t>(r.payload[1]) > 2) {
        ++skipped;
        continue;
      }
      Signal signal = static_cast<Signal>(r.payload[1]);
      int64_t receive_ns;
      std::memcpy(&receive_ns, r.payload.data() + 2, 8);
      std::string_view request = std::string_view(r.payload).substr(kRecordHeader);
      if (!ScanOtlpRequest(signal, request).ok() ||
          !IndexRecord(signal, receive_ns, request, r.position, r.payload.size()).ok()) {
        ++skipped;
      }
    }
    pos = next;
  }
  if (skipped > 0) {
    spdlog::error("tiered storage {}: {} records of the hot log could not be decoded; skipped",
                  options_.directory, skipped);
  }
  spdlog::info(
      "tiered storage {}: hot tier ready with {} spans, {} log records, {} points "
      "in {} ms",
      options_.directory, index_.spans(), index_.log_records(), index_.metric_points(),
      absl::ToInt64Milliseconds(absl::Now() - started));
  return absl::OkStatus();
}

absl::Status TieredStore::IndexRecord(Signal signal, int64_t receive_ns, std::string_view request,
                                      LogPosition position, size_t bytes) {
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
  records_.push_back({position, receive_ns, static_cast<uint32_t>(bytes)});
  return absl::OkStatus();
}

void TieredStore::Append(Signal signal, const absl::Cord& request, Done done, bool checked) {
  const int64_t receive_ns = absl::ToUnixNanos(absl::Now());
  // One flat copy (header + request) serves the log's write and the index, which reads
  // the request's fields straight from these bytes once the log says they are durable.
  auto record = std::make_shared<std::string>(RecordHeader(signal, receive_ns));
  record->reserve(kRecordHeader + request.size());
  for (absl::string_view chunk : request.Chunks()) record->append(chunk.data(), chunk.size());
  const std::string_view wire = std::string_view(*record).substr(kRecordHeader);
  // Refuse what would not decode before anything is written (the receivers checked it
  // already; this store is also a library with other callers).
  if (!checked) {
    if (absl::StatusOr<WireScan> scan = ScanOtlpRequest(signal, wire); !scan.ok()) {
      std::move(done)(absl::InvalidArgumentError(
          absl::StrCat("request does not decode as OTLP protobuf: ", scan.status().message())));
      return;
    }
  }
  absl::Cord payload =
      absl::MakeCordFromExternal(absl::string_view(record->data(), record->size()), [record] {});
  log_->Append({std::move(payload)},
               [this, signal, receive_ns, record, wire, done = std::move(done)](
                   absl::Status status, LogPosition first, LogPosition) mutable {
                 if (status.ok()) {
                   absl::MutexLock lock(&mu_);
                   status = IndexRecord(signal, receive_ns, wire, first, record->size());
                 }
                 std::move(done)(std::move(status));
               });
}

TierStats TieredStore::hot_stats() const {
  TierStats st;
  LogStats ls = log_->stats();
  st.bytes = ls.bytes;
  st.health = ls.health;
  absl::ReaderMutexLock lock(&mu_);
  st.spans = index_.spans();
  st.log_records = index_.log_records();
  st.metric_points = index_.metric_points();
  st.records = records_.size();
  if (!records_.empty()) st.oldest = absl::FromUnixNanos(records_.front().receive_ns);
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
  if (recs.empty() || recs[0].position != position || recs[0].payload.size() < kRecordHeader) {
    return absl::DataLossError(
        absl::StrCat("hot log record at ", position.ToString(), " is damaged"));
  }
  StoredRecord out;
  out.signal = static_cast<Signal>(recs[0].payload[1]);
  std::memcpy(&out.receive_ns, recs[0].payload.data() + 2, 8);
  out.request = recs[0].payload.substr(kRecordHeader);
  return out;
}

absl::StatusOr<std::vector<std::string>> TieredStore::Services() {
  absl::ReaderMutexLock lock(&mu_);
  return index_.Services();
}

absl::StatusOr<std::vector<Operation>> TieredStore::Operations(const std::string& service,
                                                               const std::string& span_kind) {
  absl::ReaderMutexLock lock(&mu_);
  return index_.Operations(service, span_kind);
}

absl::StatusOr<std::vector<TraceId>> TieredStore::FindTraces(const TraceQuery& query) {
  std::vector<std::pair<TraceId, int64_t>> found;
  {
    absl::ReaderMutexLock lock(&mu_);
    found = index_.FindTraces(query);
  }
  std::vector<TraceId> out;
  for (const auto& [id, t] : found) out.push_back(id);
  return out;
}

absl::StatusOr<std::optional<TracesData>> TieredStore::GetTrace(const TraceId& id) {
  std::vector<LogPosition> positions;
  {
    absl::ReaderMutexLock lock(&mu_);
    positions = Positions(index_.TraceRecords(id));
  }
  if (positions.empty()) return std::nullopt;
  TracesData out;
  const std::string want(reinterpret_cast<const char*>(id.data()), id.size());
  for (LogPosition p : positions) {
    absl::StatusOr<StoredRecord> rec = ReadRecord(p);
    if (!rec.ok()) return rec.status();
    auto req = Parse<HotIndex::TracesRequest>(rec->request);
    if (req == nullptr) return absl::DataLossError("undecodable traces record");
    for (auto& rs : *req->mutable_resource_spans()) {
      opentelemetry::proto::trace::v1::ResourceSpans* kept = nullptr;
      for (auto& ss : *rs.mutable_scope_spans()) {
        opentelemetry::proto::trace::v1::ScopeSpans* kept_scope = nullptr;
        for (auto& span : *ss.mutable_spans()) {
          if (span.trace_id() != want) continue;
          if (kept == nullptr) {
            kept = out.add_resource_spans();
            *kept->mutable_resource() = rs.resource();
            kept->set_schema_url(rs.schema_url());
          }
          if (kept_scope == nullptr) {
            kept_scope = kept->add_scope_spans();
            *kept_scope->mutable_scope() = ss.scope();
            kept_scope->set_schema_url(ss.schema_url());
          }
          *kept_scope->add_spans() = std::move(span);
        }
      }
    }
  }
  if (out.resource_spans_size() == 0) return std::nullopt;
  return out;
}

absl::StatusOr<std::vector<DependencyLink>> TieredStore::Dependencies(const TimeRange& time) {
  std::map<std::pair<std::string, std::string>, uint64_t> calls;
  {
    absl::ReaderMutexLock lock(&mu_);
    index_.Dependencies(time, &calls);
  }
  std::vector<DependencyLink> out;
  for (const auto& [k, n] : calls) out.push_back({k.first, k.second, n});
  return out;
}

absl::StatusOr<LogsData> TieredStore::FindLogs(const LogQuery& query) {
  std::vector<std::pair<uint64_t, uint32_t>> candidates;
  std::map<uint64_t, LogPosition> positions;
  {
    absl::ReaderMutexLock lock(&mu_);
    candidates = index_.FindLogs(query);
    for (const auto& [r, i] : candidates) {
      if (positions.count(r) == 0 && r >= first_record_ && r - first_record_ < records_.size()) {
        positions[r] = records_[r - first_record_].position;
      }
    }
  }
  std::vector<std::string> words;
  for (const std::string& w : query.words) {
    for (std::string& part : Words(w)) words.push_back(std::move(part));
  }
  LogsData out;
  size_t found = 0;
  uint64_t current = UINT64_MAX;
  std::unique_ptr<HotIndex::LogsRequest> req;
  std::vector<std::pair<const opentelemetry::proto::logs::v1::ResourceLogs*,
                        const opentelemetry::proto::logs::v1::ScopeLogs*>>
      owners;
  std::vector<const opentelemetry::proto::logs::v1::LogRecord*> flat;
  for (const auto& [record, index] : candidates) {
    if (found >= query.limit) break;
    auto pos = positions.find(record);
    if (pos == positions.end()) continue;
    if (record != current) {
      absl::StatusOr<StoredRecord> rec = ReadRecord(pos->second);
      if (!rec.ok()) return rec.status();
      req = Parse<HotIndex::LogsRequest>(rec->request);
      if (req == nullptr) return absl::DataLossError("undecodable logs record");
      current = record;
      owners.clear();
      flat.clear();
      for (const auto& rl : req->resource_logs()) {
        for (const auto& sl : rl.scope_logs()) {
          for (const auto& lr : sl.log_records()) {
            owners.emplace_back(&rl, &sl);
            flat.push_back(&lr);
          }
        }
      }
    }
    if (index >= flat.size()) continue;
    const auto& lr = *flat[index];
    if (!words.empty()) {
      std::vector<std::string> body = Words(AttributeText(lr.body()));
      absl::flat_hash_set<std::string> have(body.begin(), body.end());
      bool all = true;
      for (const std::string& w : words) all = all && have.count(w) > 0;
      if (!all) continue;
    }
    auto* rl = out.add_resource_logs();
    *rl->mutable_resource() = owners[index].first->resource();
    auto* sl = rl->add_scope_logs();
    *sl->mutable_scope() = owners[index].second->scope();
    *sl->add_log_records() = lr;
    ++found;
  }
  return out;
}

absl::StatusOr<MetricsData> TieredStore::FindMetrics(const MetricQuery& query) {
  using opentelemetry::proto::metrics::v1::Metric;
  std::vector<LogPosition> positions;
  {
    absl::ReaderMutexLock lock(&mu_);
    positions = Positions(index_.MetricRecords(query.name, query.time));
  }
  MetricsData out;
  for (LogPosition p : positions) {
    absl::StatusOr<StoredRecord> rec = ReadRecord(p);
    if (!rec.ok()) return rec.status();
    auto req = Parse<HotIndex::MetricsRequest>(rec->request);
    if (req == nullptr) return absl::DataLossError("undecodable metrics record");
    for (auto& rm : *req->mutable_resource_metrics()) {
      for (auto& sm : *rm.mutable_scope_metrics()) {
        for (auto& m : *sm.mutable_metrics()) {
          if (m.name() != query.name) continue;
          bool any = false;
          switch (m.data_case()) {
            case Metric::kGauge:
              any = FilterPoints(m.mutable_gauge()->mutable_data_points(), query, rm.resource());
              break;
            case Metric::kSum:
              any = FilterPoints(m.mutable_sum()->mutable_data_points(), query, rm.resource());
              break;
            case Metric::kHistogram:
              any =
                  FilterPoints(m.mutable_histogram()->mutable_data_points(), query, rm.resource());
              break;
            case Metric::kExponentialHistogram:
              any = FilterPoints(m.mutable_exponential_histogram()->mutable_data_points(), query,
                                 rm.resource());
              break;
            case Metric::kSummary:
              any = FilterPoints(m.mutable_summary()->mutable_data_points(), query, rm.resource());
              break;
            default:
              break;
          }
          if (!any) continue;
          auto* orm = out.add_resource_metrics();
          *orm->mutable_resource() = rm.resource();
          auto* osm = orm->add_scope_metrics();
          *osm->mutable_scope() = sm.scope();
          *osm->add_metrics() = std::move(m);
        }
      }
    }
  }
  return out;
}

}  // namespace otlpd::storage
