#pragma once

// An in-memory storage::StoreReader for the query extension's tests: it keeps the OTLP data it
// is given and answers every query by really filtering it, as the interface describes (so that
// the tests check what the extension asks for, not canned answers). Plus builders for spans,
// logs and metrics and an exporter that offers the store through the Host.

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/component.h"
#include "storage/store_reader.h"

namespace otlpd::query::testing {

namespace otlp {
using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::InstrumentationScope;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::logs::v1::LogRecord;
using opentelemetry::proto::logs::v1::LogsData;
using opentelemetry::proto::logs::v1::ResourceLogs;
using opentelemetry::proto::metrics::v1::Metric;
using opentelemetry::proto::metrics::v1::MetricsData;
using opentelemetry::proto::metrics::v1::ResourceMetrics;
using opentelemetry::proto::resource::v1::Resource;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using opentelemetry::proto::trace::v1::TracesData;
}  // namespace otlp

inline std::string Bytes(const storage::TraceId& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

inline storage::TraceId IdOf(const std::string& bytes) {
  storage::TraceId id{};
  std::copy_n(bytes.begin(), std::min<size_t>(bytes.size(), 16), id.begin());
  return id;
}

// "string form" of a value, as TraceQuery compares tags.
inline std::string ValueText(const otlp::AnyValue& v) {
  switch (v.value_case()) {
    case otlp::AnyValue::kStringValue:
      return v.string_value();
    case otlp::AnyValue::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case otlp::AnyValue::kIntValue:
      return absl::StrCat(v.int_value());
    case otlp::AnyValue::kDoubleValue:
      return absl::StrCat(v.double_value());
    default:
      return "";
  }
}

inline bool HasAttr(const google::protobuf::RepeatedPtrField<otlp::KeyValue>& attrs,
                    const std::string& key, const std::string& value) {
  for (const auto& kv : attrs) {
    if (kv.key() == key && ValueText(kv.value()) == value) return true;
  }
  return false;
}

inline std::string ServiceOf(const otlp::Resource& r) {
  for (const auto& kv : r.attributes()) {
    if (kv.key() == "service.name") return ValueText(kv.value());
  }
  return "";
}

inline std::string KindName(otlp::Span::SpanKind kind) {
  switch (kind) {
    case otlp::Span::SPAN_KIND_SERVER:
      return "server";
    case otlp::Span::SPAN_KIND_CLIENT:
      return "client";
    case otlp::Span::SPAN_KIND_PRODUCER:
      return "producer";
    case otlp::Span::SPAN_KIND_CONSUMER:
      return "consumer";
    case otlp::Span::SPAN_KIND_INTERNAL:
      return "internal";
    default:
      return "";
  }
}

inline absl::Time NanosTime(uint64_t ns) { return absl::FromUnixNanos(static_cast<int64_t>(ns)); }

class TestStore : public storage::StoreReader {
 public:
  void Add(const otlp::TracesData& d) {
    absl::MutexLock lock(&mu_);
    traces_.push_back(d);
  }
  void Add(const otlp::LogsData& d) {
    absl::MutexLock lock(&mu_);
    logs_.push_back(d);
  }
  void Add(const otlp::MetricsData& d) {
    absl::MutexLock lock(&mu_);
    metrics_.push_back(d);
  }
  // Every call fails with this while it is not OK.
  void Fail(absl::Status s) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(s);
  }
  // The last queries seen, for checking what the extension asked.
  storage::TraceQuery last_trace_query() {
    absl::MutexLock lock(&mu_);
    return last_trace_query_;
  }
  storage::LogQuery last_log_query() {
    absl::MutexLock lock(&mu_);
    return last_log_query_;
  }
  storage::MetricQuery last_metric_query() {
    absl::MutexLock lock(&mu_);
    return last_metric_query_;
  }
  storage::TimeRange last_dependencies_range() {
    absl::MutexLock lock(&mu_);
    return last_dependencies_range_;
  }

  absl::StatusOr<std::vector<std::string>> Services() override {
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    std::set<std::string> out;
    ForEachSpan([&](const otlp::ResourceSpans& rs, const auto&, const otlp::Span&) {
      out.insert(ServiceOf(rs.resource()));
    });
    return std::vector<std::string>(out.begin(), out.end());
  }

  absl::StatusOr<std::vector<storage::Operation>> Operations(
      const std::string& service, const std::string& span_kind) override {
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    std::set<storage::Operation> out;
    ForEachSpan([&](const otlp::ResourceSpans& rs, const auto&, const otlp::Span& span) {
      if (!service.empty() && ServiceOf(rs.resource()) != service) return;
      const std::string kind = KindName(span.kind());
      if (!span_kind.empty() && kind != span_kind) return;
      out.insert({span.name(), kind});
    });
    return std::vector<storage::Operation>(out.begin(), out.end());
  }

  absl::StatusOr<std::vector<storage::TraceId>> FindTraces(const storage::TraceQuery& q) override {
    absl::MutexLock lock(&mu_);
    last_trace_query_ = q;
    if (!fail_.ok()) return fail_;
    std::map<std::string, uint64_t> latest;  // trace id → latest matching span start
    ForEachSpan([&](const otlp::ResourceSpans& rs, const auto&, const otlp::Span& span) {
      if (!q.service.empty() && ServiceOf(rs.resource()) != q.service) return;
      if (!q.operation.empty() && span.name() != q.operation) return;
      if (!q.span_kind.empty() && KindName(span.kind()) != q.span_kind) return;
      const absl::Duration d = absl::Nanoseconds(span.end_time_unix_nano()) -
                               absl::Nanoseconds(span.start_time_unix_nano());
      if (q.min_duration.has_value() && d < *q.min_duration) return;
      if (q.max_duration.has_value() && d > *q.max_duration) return;
      if (!q.time.Contains(NanosTime(span.start_time_unix_nano()))) return;
      for (const auto& [k, v] : q.tags) {
        bool ok = HasAttr(span.attributes(), k, v) || HasAttr(rs.resource().attributes(), k, v);
        for (const auto& e : span.events()) ok = ok || HasAttr(e.attributes(), k, v);
        if (k == "error" && v == "true") {
          ok = ok || span.status().code() == otlp::Status::STATUS_CODE_ERROR;
        }
        if (k == "span.kind") ok = ok || KindName(span.kind()) == v;
        if (!ok) return;
      }
      uint64_t& t = latest[span.trace_id()];
      t = std::max(t, span.start_time_unix_nano());
    });
    std::vector<std::pair<uint64_t, std::string>> order;
    for (const auto& [id, t] : latest) order.emplace_back(t, id);
    std::sort(order.rbegin(), order.rend());
    std::vector<storage::TraceId> out;
    for (const auto& [t, id] : order) {
      if (out.size() >= q.limit) break;
      out.push_back(IdOf(id));
    }
    return out;
  }

  absl::StatusOr<std::optional<otlp::TracesData>> GetTrace(const storage::TraceId& id) override {
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    const std::string want = Bytes(id);
    otlp::TracesData out;
    for (const auto& d : traces_) {
      for (const auto& rs : d.resource_spans()) {
        otlp::ResourceSpans* out_rs = nullptr;
        for (const auto& ss : rs.scope_spans()) {
          decltype(out_rs->add_scope_spans()) out_ss = nullptr;
          for (const auto& span : ss.spans()) {
            if (span.trace_id() != want) continue;
            if (out_rs == nullptr) {
              out_rs = out.add_resource_spans();
              *out_rs->mutable_resource() = rs.resource();
            }
            if (out_ss == nullptr) {
              out_ss = out_rs->add_scope_spans();
              *out_ss->mutable_scope() = ss.scope();
            }
            *out_ss->add_spans() = span;
          }
        }
      }
    }
    if (out.resource_spans_size() == 0) return std::nullopt;
    return out;
  }

  absl::StatusOr<std::vector<storage::DependencyLink>> Dependencies(
      const storage::TimeRange& time) override {
    absl::MutexLock lock(&mu_);
    last_dependencies_range_ = time;
    if (!fail_.ok()) return fail_;
    std::map<std::string, std::string> service_of_span;
    ForEachSpan([&](const otlp::ResourceSpans& rs, const auto&, const otlp::Span& span) {
      service_of_span[span.trace_id() + span.span_id()] = ServiceOf(rs.resource());
    });
    std::map<std::pair<std::string, std::string>, uint64_t> counts;
    ForEachSpan([&](const otlp::ResourceSpans& rs, const auto&, const otlp::Span& span) {
      if (!time.Contains(NanosTime(span.start_time_unix_nano()))) return;
      auto it = service_of_span.find(span.trace_id() + span.parent_span_id());
      if (it == service_of_span.end() || it->second == ServiceOf(rs.resource())) return;
      ++counts[{it->second, ServiceOf(rs.resource())}];
    });
    std::vector<storage::DependencyLink> out;
    for (const auto& [edge, n] : counts) out.push_back({edge.first, edge.second, n});
    return out;
  }

  absl::StatusOr<otlp::LogsData> FindLogs(const storage::LogQuery& q) override {
    absl::MutexLock lock(&mu_);
    last_log_query_ = q;
    if (!fail_.ok()) return fail_;
    struct Hit {
      uint64_t t;
      const otlp::ResourceLogs* rl;
      const opentelemetry::proto::logs::v1::ScopeLogs* sl;
      const otlp::LogRecord* r;
    };
    std::vector<Hit> hits;
    for (const auto& d : logs_) {
      for (const auto& rl : d.resource_logs()) {
        for (const auto& sl : rl.scope_logs()) {
          for (const auto& r : sl.log_records()) {
            const uint64_t t =
                r.time_unix_nano() != 0 ? r.time_unix_nano() : r.observed_time_unix_nano();
            if (!q.time.Contains(NanosTime(t))) continue;
            if (!q.service.empty() && ServiceOf(rl.resource()) != q.service) continue;
            if (q.trace_id.has_value() && r.trace_id() != Bytes(*q.trace_id)) continue;
            if (r.severity_number() < q.min_severity) continue;
            const std::string body = absl::AsciiStrToLower(ValueText(r.body()));
            bool all = true;
            for (const std::string& w : q.words) {
              if (body.find(w) == std::string::npos) all = false;
            }
            if (all) hits.push_back({t, &rl, &sl, &r});
          }
        }
      }
    }
    std::stable_sort(hits.begin(), hits.end(),
                     [](const Hit& a, const Hit& b) { return a.t > b.t; });
    if (hits.size() > q.limit) hits.resize(q.limit);
    otlp::LogsData out;
    for (const Hit& h : hits) {
      auto* rl = out.add_resource_logs();
      *rl->mutable_resource() = h.rl->resource();
      auto* sl = rl->add_scope_logs();
      *sl->mutable_scope() = h.sl->scope();
      *sl->add_log_records() = *h.r;
    }
    return out;
  }

  absl::StatusOr<otlp::MetricsData> FindMetrics(const storage::MetricQuery& q) override {
    absl::MutexLock lock(&mu_);
    last_metric_query_ = q;
    if (!fail_.ok()) return fail_;
    otlp::MetricsData out;
    for (const auto& d : metrics_) {
      for (const auto& rm : d.resource_metrics()) {
        for (const auto& sm : rm.scope_metrics()) {
          for (const auto& m : sm.metrics()) {
            if (m.name() != q.name) continue;
            otlp::Metric copy = m;
            const auto keep = [&](const auto& p) {
              if (!q.time.Contains(NanosTime(p.time_unix_nano()))) return false;
              for (const auto& [k, v] : q.match) {
                if (!HasAttr(p.attributes(), k, v) && !HasAttr(rm.resource().attributes(), k, v)) {
                  return false;
                }
              }
              return true;
            };
            const auto filter = [&](auto* points) {
              auto* kept = points;
              std::decay_t<decltype(*points)> tmp;
              for (const auto& p : *kept) {
                if (keep(p)) *tmp.Add() = p;
              }
              kept->Swap(&tmp);
              return kept->size();
            };
            int n = 0;
            switch (copy.data_case()) {
              case otlp::Metric::kGauge:
                n = filter(copy.mutable_gauge()->mutable_data_points());
                break;
              case otlp::Metric::kSum:
                n = filter(copy.mutable_sum()->mutable_data_points());
                break;
              case otlp::Metric::kHistogram:
                n = filter(copy.mutable_histogram()->mutable_data_points());
                break;
              case otlp::Metric::kExponentialHistogram:
                n = filter(copy.mutable_exponential_histogram()->mutable_data_points());
                break;
              case otlp::Metric::kSummary:
                n = filter(copy.mutable_summary()->mutable_data_points());
                break;
              default:
                break;
            }
            if (n == 0) continue;
            auto* out_rm = out.add_resource_metrics();
            *out_rm->mutable_resource() = rm.resource();
            auto* out_sm = out_rm->add_scope_metrics();
            *out_sm->mutable_scope() = sm.scope();
            *out_sm->add_metrics() = std::move(copy);
          }
        }
      }
    }
    return out;
  }

 private:
  template <class F>
  void ForEachSpan(F f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& d : traces_) {
      for (const auto& rs : d.resource_spans()) {
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& span : ss.spans()) f(rs, ss, span);
        }
      }
    }
  }

  absl::Mutex mu_;
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  std::vector<otlp::TracesData> traces_ ABSL_GUARDED_BY(mu_);
  std::vector<otlp::LogsData> logs_ ABSL_GUARDED_BY(mu_);
  std::vector<otlp::MetricsData> metrics_ ABSL_GUARDED_BY(mu_);
  storage::TraceQuery last_trace_query_ ABSL_GUARDED_BY(mu_);
  storage::LogQuery last_log_query_ ABSL_GUARDED_BY(mu_);
  storage::MetricQuery last_metric_query_ ABSL_GUARDED_BY(mu_);
  storage::TimeRange last_dependencies_range_ ABSL_GUARDED_BY(mu_);
};

// An exporter that owns a store, as tiered_storage does; store_reader() is null until `open`.
class StoreExporter : public Exporter, public storage::StoreReaderProvider {
 public:
  explicit StoreExporter(storage::StoreReader* store) : store_(store) {}
  void Consume(TelemetryPtr, Completion done) override { std::move(done)(absl::OkStatus()); }
  storage::StoreReader* store_reader() override { return open.load() ? store_ : nullptr; }
  std::atomic<bool> open{true};

 private:
  storage::StoreReader* store_;
};

// An exporter without a store.
class PlainExporter : public Exporter {
 public:
  void Consume(TelemetryPtr, Completion done) override { std::move(done)(absl::OkStatus()); }
};

// --- builders ---

inline otlp::KeyValue* AddAttr(google::protobuf::RepeatedPtrField<otlp::KeyValue>* attrs,
                               const std::string& key) {
  otlp::KeyValue* kv = attrs->Add();
  kv->set_key(key);
  return kv;
}

inline void AddString(google::protobuf::RepeatedPtrField<otlp::KeyValue>* attrs,
                      const std::string& key, const std::string& value) {
  AddAttr(attrs, key)->mutable_value()->set_string_value(value);
}

// 16 bytes with `high` and `low` as big-endian halves.
inline std::string TraceIdBytes(uint64_t high, uint64_t low) {
  std::string out(16, '\0');
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>(high >> (56 - 8 * i));
    out[8 + i] = static_cast<char>(low >> (56 - 8 * i));
  }
  return out;
}

inline std::string SpanIdBytes(uint64_t id) { return TraceIdBytes(0, id).substr(8); }

}  // namespace otlpd::query::testing
