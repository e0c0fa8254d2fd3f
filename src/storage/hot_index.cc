#include "storage/hot_index.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "storage/attribute_text.h"
#include "storage/wire_reader.h"

namespace otlpd::storage {

namespace {

int64_t ToNanos(absl::Time t) {
  if (t == absl::InfinitePast()) return INT64_MIN;
  if (t == absl::InfiniteFuture()) return INT64_MAX;
  return absl::ToUnixNanos(t);
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

uint32_t HotIndex::Intern(std::string_view s) {
  absl::string_view key(s.data(), s.size());
  auto it = string_ids_.find(key);
  if (it != string_ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(strings_.size());
  strings_.emplace_back(s);
  string_ids_.emplace(std::string(s), id);
  return id;
}

uint32_t HotIndex::FindString(const std::string& s) const {
  auto it = string_ids_.find(s);
  return it == string_ids_.end() ? kNone : it->second;
}

namespace {

using W = WireReader;

// An AnyValue's text as AttributeText gives it, read from its bytes. Strings, bools, ints and
// doubles (all but a few attributes) are read in place; arrays, maps and bytes are decoded.
std::string_view ValueText(std::string_view any_value, std::string* storage) {
  WireReader r(any_value);
  int which = 0;
  std::string_view str;
  uint64_t num = 0;
  while (r.Next()) {
    if (r.field() >= 1 && r.field() <= 7) {
      which = static_cast<int>(r.field());
      str = r.bytes();
      num = r.number();
    }
  }
  switch (which) {
    case 1:
      return str;
    case 2:
      return num != 0 ? "true" : "false";
    case 3:
      *storage = absl::StrCat(static_cast<int64_t>(num));
      return *storage;
    case 4: {
      double d;
      std::memcpy(&d, &num, 8);
      char buf[32];
      auto res = std::to_chars(buf, buf + sizeof buf, d);
      storage->assign(buf, res.ptr);
      return *storage;
    }
    case 0:
      return "";
    default: {
      opentelemetry::proto::common::v1::AnyValue v;
      v.ParseFromArray(any_value.data(), static_cast<int>(any_value.size()));
      *storage = AttributeText(v);
      return *storage;
    }
  }
}

// AttributeHash of a KeyValue given as bytes; *key/*text (optional) get its key and text.
uint64_t KeyValueHash(std::string_view kv, std::string_view* key_out = nullptr,
                      std::string* text_out = nullptr) {
  WireReader r(kv);
  std::string_view key, value;
  while (r.Next()) {
    if (r.type() != W::kLen) continue;
    if (r.field() == 1) key = r.bytes();
    if (r.field() == 2) value = r.bytes();
  }
  std::string storage;
  std::string_view text = ValueText(value, &storage);
  if (key_out != nullptr) *key_out = key;
  if (text_out != nullptr) text_out->assign(text.data(), text.size());
  return AttributeHash(key, text);
}

TraceId IdFromBytes(std::string_view b) {
  TraceId id{};
  std::memcpy(id.data(), b.data(), std::min(b.size(), id.size()));
  return id;
}

uint64_t SpanIdFromBytes(std::string_view b) {
  uint64_t v = 0;
  std::memcpy(&v, b.data(), std::min<size_t>(b.size(), 8));
  return v;
}

}  // namespace

uint32_t HotIndex::AddResource(std::string_view resource) {
  auto it = resource_ids_.find(absl::string_view(resource.data(), resource.size()));
  if (it != resource_ids_.end()) return it->second;
  ResourceRow row;
  std::string service;
  WireReader r(resource);
  while (r.Next()) {
    if (r.field() != 1 || r.type() != W::kLen) continue;
    std::string_view key;
    std::string text;
    row.attributes.push_back(KeyValueHash(r.bytes(), &key, &text));
    if (key == "service.name") service = std::move(text);
  }
  row.service = Intern(service);
  std::sort(row.attributes.begin(), row.attributes.end());
  for (uint64_t h : row.attributes) row.signature |= SignatureBit(h);
  uint32_t id = static_cast<uint32_t>(resources_.size());
  resources_.push_back(std::move(row));
  resource_ids_.emplace(std::string(resource), id);
  return id;
}

void HotIndex::AddSpan(uint64_t record, uint32_t resource, std::string_view span) {
  SpanRow row{};
  row.record = record;
  row.resource = resource;
  row.attr_begin = static_cast<uint32_t>(span_attr_base_ + span_attributes_.size());
  size_t attrs_before = span_attributes_.size();
  uint64_t start = 0, end = 0;
  std::string_view name;
  WireReader r(span);
  while (r.Next()) {
    switch (r.field()) {
      case 1:
        row.trace = IdFromBytes(r.bytes());
        break;
      case 2:
        row.span_id = SpanIdFromBytes(r.bytes());
        break;
      case 4:
        row.parent_id = SpanIdFromBytes(r.bytes());
        break;
      case 5:
        name = r.bytes();
        break;
      case 6:
        row.kind = static_cast<uint8_t>(r.number());
        break;
      case 7:
        start = r.number();
        break;
      case 8:
        end = r.number();
        break;
      case 9:
        if (r.type() == W::kLen) span_attributes_.push_back(KeyValueHash(r.bytes()));
        break;
      case 11: {  // event: its attributes are searched like the span's
        WireReader ev(r.bytes());
        while (ev.Next()) {
          if (ev.field() == 3 && ev.type() == W::kLen) {
            span_attributes_.push_back(KeyValueHash(ev.bytes()));
          }
        }
        break;
      }
      case 15: {
        WireReader st(r.bytes());
        while (st.Next()) {
          if (st.field() == 3 && st.type() == W::kVarint)
            row.status = static_cast<uint8_t>(st.number());
        }
        break;
      }
      default:
        break;
    }
  }
  row.start = static_cast<int64_t>(start);
  row.duration = end > start ? static_cast<int64_t>(end - start) : 0;
  row.name = Intern(name);
  row.attr_count =
      static_cast<uint16_t>(std::min<size_t>(span_attributes_.size() - attrs_before, UINT16_MAX));
  for (size_t i = attrs_before; i < span_attributes_.size(); ++i) {
    row.signature |= SignatureBit(span_attributes_[i]);
  }
  spans_.push_back(row);
  TraceEntry& t = traces_[row.trace];
  if (t.records.empty() || t.records.back() != record) t.records.push_back(record);
  t.spans++;
  operations_[OperationKey{resources_[resource].service, row.name, row.kind}]++;
}

void HotIndex::AddTraces(uint64_t record, std::string_view request) {
  WireReader req(request);
  while (req.Next()) {
    if (req.field() != 1 || req.type() != W::kLen) continue;
    // A ResourceSpans: its resource may come after its spans on the wire.
    std::string_view resource;
    WireReader rs(req.bytes());
    while (rs.Next()) {
      if (rs.field() == 1 && rs.type() == W::kLen) resource = rs.bytes();
    }
    uint32_t res = AddResource(resource);
    WireReader rs2(req.bytes());
    while (rs2.Next()) {
      if (rs2.field() != 2 || rs2.type() != W::kLen) continue;
      WireReader ss(rs2.bytes());
      while (ss.Next()) {
        if (ss.field() == 2 && ss.type() == W::kLen) AddSpan(record, res, ss.bytes());
      }
    }
  }
}

void HotIndex::AddLogs(uint64_t record, std::string_view request) {
  uint32_t index = 0;
  WireReader req(request);
  while (req.Next()) {
    if (req.field() != 1 || req.type() != W::kLen) continue;
    std::string_view resource;
    WireReader rl(req.bytes());
    while (rl.Next()) {
      if (rl.field() == 1 && rl.type() == W::kLen) resource = rl.bytes();
    }
    uint32_t res = AddResource(resource);
    WireReader rl2(req.bytes());
    while (rl2.Next()) {
      if (rl2.field() != 2 || rl2.type() != W::kLen) continue;
      WireReader sl(rl2.bytes());
      while (sl.Next()) {
        if (sl.field() != 2 || sl.type() != W::kLen) continue;
        LogRow row{};
        row.record = record;
        row.index = index++;
        row.resource = res;
        uint64_t time = 0, observed = 0;
        WireReader lr(sl.bytes());
        while (lr.Next()) {
          switch (lr.field()) {
            case 1:
              time = lr.number();
              break;
            case 11:
              observed = lr.number();
              break;
            case 2:
              row.severity = static_cast<uint8_t>(std::min<uint64_t>(lr.number(), 255));
              break;
            case 9:
              row.has_trace = lr.bytes().size() == 16;
              row.trace = IdFromBytes(lr.bytes());
              break;
            default:
              break;
          }
        }
        if (!row.has_trace) row.trace = TraceId{};
        row.time = static_cast<int64_t>(time != 0 ? time : observed);
        logs_.push_back(row);
      }
    }
  }
}

void HotIndex::AddMetrics(uint64_t record, std::string_view request) {
  WireReader req(request);
  while (req.Next()) {
    if (req.field() != 1 || req.type() != W::kLen) continue;
    WireReader rm(req.bytes());
    while (rm.Next()) {
      if (rm.field() != 2 || rm.type() != W::kLen) continue;
      WireReader sm(rm.bytes());
      while (sm.Next()) {
        if (sm.field() != 2 || sm.type() != W::kLen) continue;
        MetricRow row{record, 0, INT64_MAX, INT64_MIN, 0};
        std::string_view name;
        WireReader m(sm.bytes());
        while (m.Next()) {
          if (m.field() == 1 && m.type() == W::kLen) name = m.bytes();
          // gauge, sum, histogram, exponential histogram, summary: data_points = 1, each
          // with time_unix_nano = 3.
          if (m.type() != W::kLen || (m.field() != 5 && m.field() != 7 && m.field() != 9 &&
                                      m.field() != 10 && m.field() != 11)) {
            continue;
          }
          WireReader data(m.bytes());
          while (data.Next()) {
            if (data.field() != 1 || data.type() != W::kLen) continue;
            WireReader point(data.bytes());
            int64_t t = 0;
            while (point.Next()) {
              if (point.field() == 3 && point.type() == W::kFixed64)
                t = static_cast<int64_t>(point.number());
            }
            row.min_time = std::min(row.min_time, t);
            row.max_time = std::max(row.max_time, t);
            row.points++;
          }
        }
        if (row.points == 0) continue;
        row.name = Intern(name);
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
    auto op = operations_.find(OperationKey{resources_[row.resource].service, row.name, row.kind});
    if (op != operations_.end() && --op->second == 0) operations_.erase(op);
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
  absl::flat_hash_set<uint32_t> services;
  for (const auto& [op, count] : operations_) services.insert(op.service);
  for (uint32_t s : services) out.push_back(strings_[s]);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Operation> HotIndex::Operations(const std::string& service,
                                            const std::string& span_kind) const {
  std::vector<Operation> out;
  uint32_t id = FindString(service);
  if (id == kNone) return out;
  for (const auto& [op, count] : operations_) {
    if (op.service != id) continue;
    std::string kind = KindName(op.kind);
    if (!span_kind.empty() && kind != span_kind) continue;
    out.push_back({strings_[op.name], kind});
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool HotIndex::SpanMatches(const SpanRow& row, const TraceQuery& q, uint32_t service, uint32_t name,
                           const std::vector<uint64_t>& tag_hashes, uint64_t tag_signature,
                           int want_kind, int want_status) const {
  const ResourceRow& resource = resources_[row.resource];
  if (((row.signature | resource.signature) & tag_signature) != tag_signature) return false;
  if (service != kNone && resource.service != service) return false;
  if (name != kNone && row.name != name) return false;
  if (want_kind >= 0 && row.kind != want_kind) return false;
  if (want_status >= 0 && row.status != want_status) return false;
  if (want_status == -2 && row.status == 2) return false;
  if (q.min_duration && row.duration < absl::ToInt64Nanoseconds(*q.min_duration)) return false;
  if (q.max_duration && row.duration > absl::ToInt64Nanoseconds(*q.max_duration)) return false;
  if (!tag_hashes.empty()) {
    const std::vector<uint64_t>& res = resource.attributes;
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
  uint64_t tag_signature = 0;
  for (uint64_t h : tag_hashes) tag_signature |= SignatureBit(h);
  const int64_t start = ToNanos(q.time.start), end = ToNanos(q.time.end);
  absl::flat_hash_map<TraceId, int64_t> found;
  // Newest rows first; stop once `limit` traces are found (rows arrive roughly in time
  // order, so these are the most recent ones).
  for (auto it = spans_.rbegin(); it != spans_.rend(); ++it) {
    const SpanRow& row = *it;
    if (row.start < start || row.start > end) continue;
    if (!SpanMatches(row, q, service, name, tag_hashes, tag_signature, want_kind, want_status)) {
      continue;
    }
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
