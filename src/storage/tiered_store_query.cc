// TieredStore's StoreReader side: every query reads the hot index and the warm blocks
// of one consistent snapshot (taken under the store's lock, which migration holds while it
// moves data from hot to warm), so an item is seen exactly once.
#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "storage/attribute_text.h"
#include "storage/log_block.h"
#include "storage/log_words.h"
#include "storage/record_block.h"
#include "storage/tiered_store.h"
#include "storage/trace_block.h"

namespace otlpd::storage {

namespace {

using opentelemetry::proto::logs::v1::LogsData;
using opentelemetry::proto::metrics::v1::MetricsData;
using opentelemetry::proto::trace::v1::TracesData;

// A hot record read again after a migration moved it: the query starts over.
constexpr int kAttempts = 4;

int64_t ToNanos(absl::Time t) {
  if (t == absl::InfinitePast()) return INT64_MIN;
  if (t == absl::InfiniteFuture()) return INT64_MAX;
  return absl::ToUnixNanos(t);
}

bool Overlaps(const BlockMeta& m, const TimeRange& t) {
  return m.max_time_unix_nano() >= ToNanos(t.start) && m.min_time_unix_nano() <= ToNanos(t.end);
}

bool HasService(const BlockMeta& m, const std::string& service) {
  return service.empty() || std::binary_search(m.services().begin(), m.services().end(), service);
}

std::vector<std::string> QueryWords(const LogQuery& q) {
  std::vector<std::string> words;
  for (const std::string& w : q.words) {
    for (std::string& part : LogWords(w)) words.push_back(std::move(part));
  }
  return words;
}

bool BodyHasWords(const opentelemetry::proto::logs::v1::LogRecord& lr,
                  const std::vector<std::string>& words) {
  if (words.empty()) return true;
  std::vector<std::string> body = LogWords(AttributeText(lr.body()));
  absl::flat_hash_set<std::string> have(body.begin(), body.end());
  for (const std::string& w : words) {
    if (!have.contains(w)) return false;
  }
  return true;
}

// Everything LogQuery asks of a record except the words.
bool LogMatches(const LogQuery& q, const std::string& service,
                const opentelemetry::proto::logs::v1::LogRecord& lr) {
  if (!q.service.empty() && service != q.service) return false;
  if (lr.severity_number() < q.min_severity) return false;
  uint64_t t = lr.time_unix_nano() != 0 ? lr.time_unix_nano() : lr.observed_time_unix_nano();
  if (!q.time.Contains(absl::FromUnixNanos(static_cast<int64_t>(t)))) return false;
  if (q.trace_id) {
    if (lr.trace_id().size() != 16 ||
        std::memcmp(lr.trace_id().data(), q.trace_id->data(), 16) != 0) {
      return false;
    }
  }
  return true;
}

void AddLog(const opentelemetry::proto::logs::v1::ResourceLogs& rl,
            const opentelemetry::proto::logs::v1::ScopeLogs& sl,
            const opentelemetry::proto::logs::v1::LogRecord& lr, LogsData* out) {
  auto* orl = out->add_resource_logs();
  *orl->mutable_resource() = rl.resource();
  auto* osl = orl->add_scope_logs();
  *osl->mutable_scope() = sl.scope();
  *osl->add_log_records() = lr;
}

template <class Point>
bool PointMatches(const Point& p, const MetricQuery& q,
                  const opentelemetry::proto::resource::v1::Resource& resource) {
  if (!q.time.Contains(absl::FromUnixNanos(static_cast<int64_t>(p.time_unix_nano())))) {
    return false;
  }
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

// Moves the metrics of `req` named q.name, with their matching points, into *out.
void CollectMetrics(HotIndex::MetricsRequest* req, const MetricQuery& q, MetricsData* out) {
  using opentelemetry::proto::metrics::v1::Metric;
  for (auto& rm : *req->mutable_resource_metrics()) {
    for (auto& sm : *rm.mutable_scope_metrics()) {
      for (auto& m : *sm.mutable_metrics()) {
        if (m.name() != q.name) continue;
        bool any = false;
        switch (m.data_case()) {
          case Metric::kGauge:
            any = FilterPoints(m.mutable_gauge()->mutable_data_points(), q, rm.resource());
            break;
          case Metric::kSum:
            any = FilterPoints(m.mutable_sum()->mutable_data_points(), q, rm.resource());
            break;
          case Metric::kHistogram:
            any = FilterPoints(m.mutable_histogram()->mutable_data_points(), q, rm.resource());
            break;
          case Metric::kExponentialHistogram:
            any = FilterPoints(m.mutable_exponential_histogram()->mutable_data_points(), q,
                               rm.resource());
            break;
          case Metric::kSummary:
            any = FilterPoints(m.mutable_summary()->mutable_data_points(), q, rm.resource());
            break;
          default:
            break;
        }
        if (!any) continue;
        auto* orm = out->add_resource_metrics();
        *orm->mutable_resource() = rm.resource();
        auto* osm = orm->add_scope_metrics();
        *osm->mutable_scope() = sm.scope();
        *osm->add_metrics() = std::move(m);
      }
    }
  }
}

// Appends the spans of trace `want` in `req` to *out, grouped by resource and scope.
void CollectTrace(HotIndex::TracesRequest* req, const std::string& want, TracesData* out) {
  for (auto& rs : *req->mutable_resource_spans()) {
    opentelemetry::proto::trace::v1::ResourceSpans* kept = nullptr;
    for (auto& ss : *rs.mutable_scope_spans()) {
      opentelemetry::proto::trace::v1::ScopeSpans* kept_scope = nullptr;
      for (auto& span : *ss.mutable_spans()) {
        if (span.trace_id() != want) continue;
        if (kept == nullptr) {
          kept = out->add_resource_spans();
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

bool Retry(const absl::Status& s) { return s.code() == absl::StatusCode::kNotFound; }

}  // namespace

absl::StatusOr<std::vector<std::string>> TieredStore::Services() {
  std::set<std::string> out;
  Snapshot snap;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (std::string& s : index_.Services()) out.insert(std::move(s));
    snap = TakeSnapshot();
  }
  for (const BlockRef& b : snap.blocks) {
    const BlockMeta& m = b.meta;
    if (static_cast<Signal>(m.signal()) != Signal::kTraces) continue;
    for (const std::string& s : m.services()) out.insert(s);
  }
  out.erase("");
  return std::vector<std::string>(out.begin(), out.end());
}

absl::StatusOr<std::vector<Operation>> TieredStore::Operations(const std::string& service,
                                                               const std::string& span_kind) {
  std::set<Operation> out;
  Snapshot snap;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (Operation& o : index_.Operations(service, span_kind)) out.insert(std::move(o));
    snap = TakeSnapshot();
  }
  for (const BlockRef& b : snap.blocks) {
    const BlockMeta& m = b.meta;
    if (static_cast<Signal>(m.signal()) != Signal::kTraces || !HasService(m, service)) continue;
    auto reader = TraceReader(b);
    if (!reader.ok()) continue;  // damaged: counted and logged
    auto ops = (*reader)->Operations(service, span_kind);
    if (!ops.ok()) continue;
    for (Operation& o : *ops) out.insert(std::move(o));
  }
  return std::vector<Operation>(out.begin(), out.end());
}

absl::StatusOr<std::vector<TraceId>> TieredStore::FindTraces(const TraceQuery& query) {
  absl::flat_hash_map<TraceId, int64_t> found;
  Snapshot snap;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [id, t] : index_.FindTraces(query)) found[id] = t;
    snap = TakeSnapshot();
  }
  // The limit-th best time so far: older blocks cannot beat it.
  auto bar = [&]() -> int64_t {
    if (found.size() < query.limit) return INT64_MIN;
    std::vector<int64_t> times;
    for (const auto& [id, t] : found) times.push_back(t);
    std::nth_element(times.begin(), times.begin() + (query.limit - 1), times.end(),
                     std::greater<>());
    return times[query.limit - 1];
  };
  int64_t floor = bar();
  for (const BlockRef& b : snap.blocks) {  // newest first
    const BlockMeta& m = b.meta;
    if (static_cast<Signal>(m.signal()) != Signal::kTraces || !Overlaps(m, query.time) ||
        !HasService(m, query.service) || m.max_time_unix_nano() < floor) {
      continue;
    }
    auto reader = TraceReader(b);
    if (!reader.ok()) continue;
    std::vector<std::pair<TraceId, int64_t>> hits;
    if (!(*reader)->Search(query, &hits).ok()) continue;
    for (const auto& [id, t] : hits) {
      auto [it, added] = found.try_emplace(id, t);
      if (!added) it->second = std::max(it->second, t);
    }
    floor = bar();
  }
  std::vector<std::pair<TraceId, int64_t>> sorted(found.begin(), found.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<TraceId> out;
  for (size_t i = 0; i < sorted.size() && i < query.limit; ++i) out.push_back(sorted[i].first);
  return out;
}

absl::StatusOr<std::optional<TracesData>> TieredStore::GetTrace(const TraceId& id) {
  absl::StatusOr<std::optional<TracesData>> r;
  for (int i = 0; i < kAttempts; ++i) {
    r = GetTraceOnce(id);
    if (r.ok() || !Retry(r.status())) break;
  }
  return r;
}

absl::StatusOr<std::optional<TracesData>> TieredStore::GetTraceOnce(const TraceId& id) {
  std::vector<LogPosition> positions;
  Snapshot snap;
  {
    absl::ReaderMutexLock lock(&mu_);
    positions = Positions(index_.TraceRecords(id));
    snap = TakeSnapshot();
  }
  TracesData out;
  const std::string want(reinterpret_cast<const char*>(id.data()), id.size());
  for (LogPosition p : positions) {
    absl::StatusOr<StoredRecord> rec = ReadRecord(p);
    if (!rec.ok()) return rec.status();
    HotIndex::TracesRequest req;
    if (!req.ParseFromString(rec->request)) return absl::DataLossError("undecodable record");
    CollectTrace(&req, want, &out);
  }
  for (const BlockRef& b : snap.blocks) {
    const BlockMeta& m = b.meta;
    if (static_cast<Signal>(m.signal()) != Signal::kTraces) continue;
    auto reader = TraceReader(b);
    if (!reader.ok() || !(*reader)->MayContain(id)) continue;
    auto part = (*reader)->GetTrace(id);
    if (!part.ok() || !part->has_value()) continue;
    for (auto& rs : *(*part)->mutable_resource_spans()) *out.add_resource_spans() = std::move(rs);
  }
  if (out.resource_spans_size() == 0) return std::nullopt;
  return out;
}

absl::StatusOr<std::vector<DependencyLink>> TieredStore::Dependencies(const TimeRange& time) {
  std::map<std::pair<std::string, std::string>, uint64_t> calls;
  Snapshot snap;
  {
    absl::ReaderMutexLock lock(&mu_);
    index_.Dependencies(time, &calls);
    snap = TakeSnapshot();
  }
  const int64_t start = ToNanos(time.start), end = ToNanos(time.end);
  for (const BlockRef& b : snap.blocks) {
    const BlockMeta& m = b.meta;
    if (static_cast<Signal>(m.signal()) != Signal::kTraces || !Overlaps(m, time)) continue;
    auto reader = TraceReader(b);
    if (!reader.ok()) continue;
    struct Row {
      std::string trace, parent, service;
      int64_t start;
    };
    std::map<std::pair<std::string, std::string>, std::string> service_of;  // (trace, span)
    std::vector<Row> rows;
    absl::Status s = (*reader)->ForEach(
        [&](opentelemetry::proto::trace::v1::ResourceSpans&& rs) -> absl::Status {
          std::string service = ServiceName(rs.resource());
          for (const auto& ss : rs.scope_spans()) {
            for (const auto& span : ss.spans()) {
              service_of[{span.trace_id(), span.span_id()}] = service;
              if (!span.parent_span_id().empty()) {
                rows.push_back({span.trace_id(), span.parent_span_id(), service,
                                static_cast<int64_t>(span.start_time_unix_nano())});
              }
            }
          }
          return absl::OkStatus();
        });
    if (!s.ok()) continue;
    for (const Row& r : rows) {
      if (r.start < start || r.start > end) continue;
      auto parent = service_of.find({r.trace, r.parent});
      if (parent != service_of.end() && parent->second != r.service) {
        calls[{parent->second, r.service}]++;
      }
    }
  }
  std::vector<DependencyLink> out;
  for (const auto& [k, n] : calls) out.push_back({k.first, k.second, n});
  return out;
}

absl::StatusOr<LogsData> TieredStore::FindLogs(const LogQuery& query) {
  absl::StatusOr<LogsData> r;
  for (int i = 0; i < kAttempts; ++i) {
    r = FindLogsOnce(query);
    if (r.ok() || !Retry(r.status())) break;
  }
  return r;
}

absl::StatusOr<LogsData> TieredStore::FindLogsOnce(const LogQuery& query) {
  std::vector<std::pair<uint64_t, uint32_t>> candidates;
  std::map<uint64_t, LogPosition> positions;
  Snapshot snap;
  {
    absl::ReaderMutexLock lock(&mu_);
    candidates = index_.FindLogs(query);
    for (const auto& [r, i] : candidates) {
      if (positions.count(r) == 0 && r >= first_record_ && r - first_record_ < records_.size()) {
        positions[r] = records_[r - first_record_].position;
      }
    }
    snap = TakeSnapshot();
  }
  const std::vector<std::string> words = QueryWords(query);
  LogsData out;
  size_t found = 0;
  // Hot: the index already applied everything but the words; newest first.
  uint64_t current = UINT64_MAX;
  HotIndex::LogsRequest req;
  struct Ref {
    const opentelemetry::proto::logs::v1::ResourceLogs* rl;
    const opentelemetry::proto::logs::v1::ScopeLogs* sl;
    const opentelemetry::proto::logs::v1::LogRecord* lr;
  };
  std::vector<Ref> flat;
  for (const auto& [record, index] : candidates) {
    if (found >= query.limit) break;
    auto pos = positions.find(record);
    if (pos == positions.end()) continue;
    if (record != current) {
      absl::StatusOr<StoredRecord> rec = ReadRecord(pos->second);
      if (!rec.ok()) return rec.status();
      req.Clear();
      if (!req.ParseFromString(rec->request)) return absl::DataLossError("undecodable record");
      current = record;
      flat.clear();
      for (const auto& rl : req.resource_logs()) {
        for (const auto& sl : rl.scope_logs()) {
          for (const auto& lr : sl.log_records()) flat.push_back({&rl, &sl, &lr});
        }
      }
    }
    if (index >= flat.size() || !BodyHasWords(*flat[index].lr, words)) continue;
    AddLog(*flat[index].rl, *flat[index].sl, *flat[index].lr, &out);
    ++found;
  }
  // Warm: newest blocks first, every record of a block checked.
  for (const BlockRef& b : snap.blocks) {
    const BlockMeta& m = b.meta;
    if (found >= query.limit) break;
    if (static_cast<Signal>(m.signal()) != Signal::kLogs || !Overlaps(m, query.time) ||
        !HasService(m, query.service) ||
        !std::all_of(words.begin(), words.end(), [&](const std::string& w) {
          return WordBloom::MayContain(m.word_bloom(), w);
        })) {
      continue;
    }
    absl::StatusOr<std::string> block = ReadBlock(b);
    if (!block.ok()) continue;
    std::vector<LogsData> per_request;
    (void)ForEachLogsRequestIn(
        m.format(), *std::move(block), [&](int64_t, HotIndex::LogsRequest&& r) {
          LogsData matches;
          for (const auto& rl : r.resource_logs()) {
            std::string service = ServiceName(rl.resource());
            for (const auto& sl : rl.scope_logs()) {
              for (const auto& lr : sl.log_records()) {
                if (LogMatches(query, service, lr) && BodyHasWords(lr, words)) {
                  AddLog(rl, sl, lr, &matches);
                }
              }
            }
          }
          per_request.push_back(std::move(matches));
        });
    // Newest first within the block too.
    for (auto it = per_request.rbegin(); it != per_request.rend() && found < query.limit; ++it) {
      for (int i = it->resource_logs_size() - 1; i >= 0 && found < query.limit; --i) {
        *out.add_resource_logs() = it->resource_logs(i);
        ++found;
      }
    }
  }
  return out;
}

absl::StatusOr<MetricsData> TieredStore::FindMetrics(const MetricQuery& query) {
  absl::StatusOr<MetricsData> r;
  for (int i = 0; i < kAttempts; ++i) {
    r = FindMetricsOnce(query);
    if (r.ok() || !Retry(r.status())) break;
  }
  return r;
}

absl::StatusOr<MetricsData> TieredStore::FindMetricsOnce(const MetricQuery& query) {
  std::vector<LogPosition> positions;
  Snapshot snap;
  {
    absl::ReaderMutexLock lock(&mu_);
    positions = Positions(index_.MetricRecords(query.name, query.time));
    snap = TakeSnapshot();
  }
  MetricsData out;
  // Oldest first, so that points come in time order: cold, warm, then hot.
  for (auto it = snap.blocks.rbegin(); it != snap.blocks.rend(); ++it) {
    const BlockRef& b = *it;
    const BlockMeta& m = b.meta;
    if (static_cast<Signal>(m.signal()) != Signal::kMetrics || !Overlaps(m, query.time) ||
        !std::binary_search(m.metric_names().begin(), m.metric_names().end(), query.name)) {
      continue;
    }
    absl::StatusOr<std::string> block = ReadBlock(b);
    if (!block.ok()) continue;
    (void)ForEachRecord(*block, [&](Signal, int64_t, std::string_view request) {
      HotIndex::MetricsRequest req;
      if (req.ParseFromArray(request.data(), static_cast<int>(request.size()))) {
        CollectMetrics(&req, query, &out);
      }
    });
  }
  for (LogPosition p : positions) {
    absl::StatusOr<StoredRecord> rec = ReadRecord(p);
    if (!rec.ok()) return rec.status();
    HotIndex::MetricsRequest req;
    if (!req.ParseFromString(rec->request)) return absl::DataLossError("undecodable record");
    CollectMetrics(&req, query, &out);
  }
  return out;
}

}  // namespace otlpd::storage
