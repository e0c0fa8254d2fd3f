#include "storage/hot_index.h"

#include <algorithm>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "storage/attribute_text.h"

namespace otlpd::storage {

namespace {

using opentelemetry::proto::common::v1::KeyValue;

TraceId ToTraceId(const std::string& bytes) {
  TraceId id{};
  std::memcpy(id.data(), bytes.data(), std::min(bytes.size(), id.size()));
  return id;
}

uint64_t ToSpanId(const std::string& bytes) {
  uint64_t v = 0;
  std::memcpy(&v, bytes.data(), std::min<size_t>(bytes.size(), 8));
  return v;
}

int64_t ToNanos(absl::Time t) {
  if (t == absl::InfinitePast()) return INT64_MIN;
  if (t == absl::InfiniteFuture()) return INT64_MAX;
  return absl::ToUnixNanos(t);
}

template <class Attrs>
void HashAttributes(const Attrs& attrs, std::deque<uint64_t>* out) {
  for (const KeyValue& kv : attrs)
    out->push_back(AttributeHash(kv.key(), AttributeText(kv.value())));
}

int KindFromName(const std::string& name) {
  static const char* const kNames[] = {"", "internal", "server", "client", "producer", "consumer"};
  for (int i = 1; i < 6; ++i) {
    if (name == kNames[i]) return i;
  }
  return -1;
}

// OTLP status code (0 unset, 1 ok, 2 error) from Jaeger's special tags; -1 when none.
int StatusFromTags(const std::vector<std::pair<std::string, std::string>>& tags, bool* bad) {
  int want = -1;
  for (const auto& [k, v] : tags) {
    if (k == "error") {
      int w = v == "true" ? 2 : -2;  // error=false: anything but ERROR
      if (want != -1 && want != w) *bad = true;
      want = w;
    } else if (k == "otel.status_code") {
      std::string up = absl::AsciiStrToUpper(v);
      int w = up == "ERROR" ? 2 : up == "OK" ? 1 : up == "UNSET" ? 0 : -3;
      if (w == -3 || (want != -1 && want != w)) *bad = true;
      want = w;
    }
  }
  return want;
}

}  // namespace

std::string HotIndex::KindName(int kind) {
  static const char* const kNames[] = {"", "internal", "server", "client", "producer", "consumer"};
  return kind >= 0 && kind < 6 ? kNames[kind] : "";
}

uint32_t HotIndex::Intern(const std::string& s) {
  auto [it, added] = string_ids_.try_emplace(s, static_cast<uint32_t>(strings_.size()));
  if (added) strings_.push_back(s);
  return it->second;
}

uint32_t HotIndex::FindString(const std::string& s) const {
  auto it = string_ids_.find(s);
  return it == string_ids_.end() ? kNone : it->second;
}

uint32_t HotIndex::AddResource(const opentelemetry::proto::resource::v1::Resource& resource) {
  std::string key = resource.SerializeAsString();
  auto it = resource_ids_.find(key);
  if (it != resource_ids_.end()) return it->second;
  ResourceRow row;
  row.service = Intern(ServiceName(resource));
  for (const KeyValue& kv : resource.attributes()) {
    row.attributes.push_back(AttributeHash(kv.key(), AttributeText(kv.value())));
  }
  std::sort(row.attributes.begin(), row.attributes.end());
  uint32_t id = static_cast<uint32_t>(resources_.size());
  resources_.push_back(std::move(row));
  resource_ids_.emplace(std::move(key), id);
  return id;
}

void HotIndex::AddTraces(uint64_t record, const TracesRequest& request) {
  for (const auto& rs : request.resource_spans()) {
    uint32_t resource = AddResource(rs.resource());
    uint32_t service = resources_[resource].service;
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        SpanRow row;
        row.record = record;
        row.trace = ToTraceId(span.trace_id());
        row.span_id = ToSpanId(span.span_id());
        row.parent_id = ToSpanId(span.parent_span_id());
        row.start = static_cast<int64_t>(span.start_time_unix_nano());
        row.duration =
            span.end_time_unix_nano() > span.start_time_unix_nano()
                ? static_cast<int64_t>(span.end_time_unix_nano() - span.start_time_unix_nano())
                : 0;
        row.resource = resource;
        row.name = Intern(span.name());
        row.kind = static_cast<uint8_t>(span.kind());
        row.status = static_cast<uint8_t>(span.status().code());
        row.attr_begin = static_cast<uint32_t>(span_attr_base_ + span_attributes_.size());
        size_t before = span_attributes_.size();
        HashAttributes(span.attributes(), &span_attributes_);
        for (const auto& ev : span.events()) HashAttributes(ev.attributes(), &span_attributes_);
        row.attr_count =
            static_cast<uint16_t>(std::min<size_t>(span_attributes_.size() - before, UINT16_MAX));
        spans_.push_back(row);
        TraceEntry& t = traces_[row.trace];
        if (t.records.empty() || t.records.back() != record) t.records.push_back(record);
        t.spans++;
        operations_[service][{row.name, row.kind}]++;
      }
    }
  }
}

void HotIndex::AddLogs(uint64_t record, const LogsRequest& request) {
  uint32_t index = 0;
  for (const auto& rl : request.resource_logs()) {
    uint32_t resource = AddResource(rl.resource());
    for (const auto& sl : rl.scope_logs()) {
      for (const auto& lr : sl.log_records()) {
        LogRow row;
        row.record = record;
        row.index = index++;
        row.time = static_cast<int64_t>(lr.time_unix_nano() != 0 ? lr.time_unix_nano()
                                                                 : lr.observed_time_unix_nano());
        row.resource = resource;
        row.severity = static_cast<uint8_t>(std::clamp<int>(lr.severity_number(), 0, 255));
        row.has_trace = lr.trace_id().size() == 16;
        row.trace = row.has_trace ? ToTraceId(lr.trace_id()) : TraceId{};
        logs_.push_back(row);
      }
    }
  }
}

namespace {

template <class Points>
void PointTimes(const Points& points, int64_t* min_t, int64_t* max_t, uint64_t* n) {
  for (const auto& p : points) {
    int64_t t = static_cast<int64_t>(p.time_unix_nano());
    *min_t = std::min(*min_t, t);
    *max_t = std::max(*max_t, t);
    ++*n;
  }
}

}  // namespace

void HotIndex::AddMetrics(uint64_t record, const MetricsRequest& request) {
  using opentelemetry::proto::metrics::v1::Metric;
  for (const auto& rm : request.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) {
      for (const Metric& m : sm.metrics()) {
        MetricRow row{record, Intern(m.name()), INT64_MAX, INT64_MIN, 0};
        switch (m.data_case()) {
          case Metric::kGauge:
            PointTimes(m.gauge().data_points(), &row.min_time, &row.max_time, &row.points);
            break;
          case Metric::kSum:
            PointTimes(m.sum().data_points(), &row.min_time, &row.max_time, &row.points);
            break;
          case Metric::kHistogram:
            PointTimes(m.histogram().data_points(), &row.min_time, &row.max_time, &row.points);
            break;
          case Metric::kExponentialHistogram:
            PointTimes(m.exponential_histogram().data_points(), &row.min_time, &row.max_time,
                       &row.points);
            break;
          case Metric::kSummary:
            PointTimes(m.summary().data_points(), &row.min_time, &row.max_time, &row.points);
            break;
          default:
            break;
        }
        if (row.points == 0) continue;
        metric_points_ += row.points;
        metrics_.push_back(row);
      }
    }
  }
}

void HotIndex::DropBefore(uint64_t record) {
  while (!spans_.empty() && spans_.front().record < record) {
    const SpanRow& row = spans_.front();
    auto t = traces_.find(row.trace);
    if (t != traces_.end()) {
      auto& recs = t->second.records;
      recs.erase(std::remove_if(recs.begin(), recs.end(), [&](uint64_t r) { return r < record; }),
                 recs.end());
      if (--t->second.spans == 0 || recs.empty()) traces_.erase(t);
    }
    auto& ops = operations_[resources_[row.resource].service];
    auto op = ops.find({row.name, row.kind});
    if (op != ops.end() && --op->second == 0) ops.erase(op);
    // Attributes of dropped spans are the oldest ones.
    uint64_t end = uint64_t{row.attr_begin} + row.attr_count;
    while (span_attr_base_ < end && !span_attributes_.empty()) {
      span_attributes_.pop_front();
      ++span_attr_base_;
    }
    spans_.pop_front();
  }
  while (!logs_.empty() && logs_.front().record < record) logs_.pop_front();
  while (!metrics_.empty() && metrics_.front().record < record) {
    metric_points_ -= metrics_.front().points;
    metrics_.pop_front();
  }
}

std::vector<std::string> HotIndex::Services() const {
  std::vector<std::string> out;
  for (const auto& [service, ops] : operations_) {
    if (!ops.empty()) out.push_back(strings_[service]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Operation> HotIndex::Operations(const std::string& service,
                                            const std::string& span_kind) const {
  std::vector<Operation> out;
  uint32_t id = FindString(service);
  auto it = operations_.find(id);
  if (id == kNone || it == operations_.end()) return out;
  for (const auto& [op, count] : it->second) {
    std::string kind = KindName(op.second);
    if (!span_kind.empty() && kind != span_kind) continue;
    out.push_back({strings_[op.first], kind});
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool HotIndex::SpanMatches(const SpanRow& row, const TraceQuery& q, uint32_t service, uint32_t name,
                           const std::vector<uint64_t>& tag_hashes, int want_kind,
                           int want_status) const {
  if (service != kNone && resources_[row.resource].service != service) return false;
  if (name != kNone && row.name != name) return false;
  if (want_kind >= 0 && row.kind != want_kind) return false;
  if (want_status >= 0 && row.status != want_status) return false;
  if (want_status == -2 && row.status == 2) return false;
  if (q.min_duration && row.duration < absl::ToInt64Nanoseconds(*q.min_duration)) return false;
  if (q.max_duration && row.duration > absl::ToInt64Nanoseconds(*q.max_duration)) return false;
  if (!tag_hashes.empty()) {
    const std::vector<uint64_t>& res = resources_[row.resource].attributes;
    uint64_t begin = row.attr_begin - span_attr_base_;
    for (uint64_t h : tag_hashes) {
      bool found = std::binary_search(res.begin(), res.end(), h);
      for (uint64_t i = 0; !found && i < row.attr_count; ++i) {
        found = span_attributes_[begin + i] == h;
      }
      if (!found) return false;
    }
  }
  return true;
}

std::vector<std::pair<TraceId, int64_t>> HotIndex::FindTraces(const TraceQuery& q) const {
  std::vector<std::pair<TraceId, int64_t>> out;
  uint32_t service = kNone, name = kNone;
  if (!q.service.empty() && (service = FindString(q.service)) == kNone) return out;
  if (!q.operation.empty() && (name = FindString(q.operation)) == kNone) return out;
  int want_kind = -1;
  if (!q.span_kind.empty() && (want_kind = KindFromName(q.span_kind)) < 0) return out;
  bool contradiction = false;
  int want_status = StatusFromTags(q.tags, &contradiction);
  if (contradiction) return out;
  std::vector<uint64_t> tag_hashes;
  for (const auto& [k, v] : q.tags) {
    if (k == "error" || k == "otel.status_code") continue;
    if (k == "span.kind") {
      int kind = KindFromName(v);
      if (kind < 0 || (want_kind >= 0 && want_kind != kind)) return out;
      want_kind = kind;
      continue;
    }
    tag_hashes.push_back(AttributeHash(k, v));
  }
  const int64_t start = ToNanos(q.time.start), end = ToNanos(q.time.end);
  absl::flat_hash_map<TraceId, int64_t> found;
  // Newest rows first; stop once `limit` traces are found (rows arrive roughly in time
  // order, so these are the most recent ones).
  for (auto it = spans_.rbegin(); it != spans_.rend(); ++it) {
    const SpanRow& row = *it;
    if (row.start < start || row.start > end) continue;
    if (!SpanMatches(row, q, service, name, tag_hashes, want_kind, want_status)) continue;
    auto [f, added] = found.try_emplace(row.trace, row.start);
    if (!added) {
      f->second = std::max(f->second, row.start);
    } else if (found.size() >= q.limit) {
      break;
    }
  }
  out.assign(found.begin(), found.end());
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::vector<uint64_t> HotIndex::TraceRecords(const TraceId& id) const {
  auto it = traces_.find(id);
  if (it == traces_.end()) return {};
  std::vector<uint64_t> out = it->second.records;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void HotIndex::Dependencies(const TimeRange& time,
                            std::map<std::pair<std::string, std::string>, uint64_t>* calls) const {
  using Key = std::pair<TraceId, uint64_t>;  // (trace, span id)
  absl::flat_hash_map<Key, uint32_t> service_of;
  for (const SpanRow& row : spans_) {
    service_of[{row.trace, row.span_id}] = resources_[row.resource].service;
  }
  const int64_t start = ToNanos(time.start), end = ToNanos(time.end);
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> counts;
  for (const SpanRow& row : spans_) {
    if (row.parent_id == 0 || row.start < start || row.start > end) continue;
    auto parent = service_of.find(Key{row.trace, row.parent_id});
    if (parent == service_of.end()) continue;
    uint32_t child = resources_[row.resource].service;
    if (parent->second != child) counts[{parent->second, child}]++;
  }
  for (const auto& [k, n] : counts) (*calls)[{strings_[k.first], strings_[k.second]}] += n;
}

std::vector<std::pair<uint64_t, uint32_t>> HotIndex::FindLogs(const LogQuery& q) const {
  std::vector<std::pair<uint64_t, uint32_t>> out;
  uint32_t service = kNone;
  if (!q.service.empty() && (service = FindString(q.service)) == kNone) return out;
  const int64_t start = ToNanos(q.time.start), end = ToNanos(q.time.end);
  for (auto it = logs_.rbegin(); it != logs_.rend(); ++it) {
    const LogRow& row = *it;
    if (row.time < start || row.time > end) continue;
    if (service != kNone && resources_[row.resource].service != service) continue;
    if (row.severity < q.min_severity) continue;
    if (q.trace_id && (!row.has_trace || row.trace != *q.trace_id)) continue;
    out.emplace_back(row.record, row.index);
  }
  return out;
}

std::vector<uint64_t> HotIndex::MetricRecords(const std::string& name,
                                              const TimeRange& time) const {
  std::vector<uint64_t> out;
  uint32_t id = FindString(name);
  if (id == kNone) return out;
  const int64_t start = ToNanos(time.start), end = ToNanos(time.end);
  for (const MetricRow& row : metrics_) {
    if (row.name != id || row.max_time < start || row.min_time > end) continue;
    if (out.empty() || out.back() != row.record) out.push_back(row.record);
  }
  return out;
}

}  // namespace otlpd::storage
