#include "exporters/debug/debug_exporter.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/otlp_json.h"

namespace otlpd {

namespace {

using google::protobuf::RepeatedPtrField;
using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::InstrumentationScope;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::metrics::v1::Metric;

void AppendValue(const AnyValue& v, std::string* out);

void AppendAttributes(const RepeatedPtrField<KeyValue>& attrs, std::string* out) {
  bool first = true;
  for (const KeyValue& kv : attrs) {
    if (!first) out->push_back(' ');
    first = false;
    absl::StrAppend(out, kv.key(), "=");
    AppendValue(kv.value(), out);
  }
}

void AppendValue(const AnyValue& v, std::string* out) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      out->append(v.string_value());
      break;
    case AnyValue::kBoolValue:
      out->append(v.bool_value() ? "true" : "false");
      break;
    case AnyValue::kIntValue:
      absl::StrAppend(out, v.int_value());
      break;
    case AnyValue::kDoubleValue:
      absl::StrAppend(out, v.double_value());
      break;
    case AnyValue::kArrayValue: {
      out->push_back('[');
      bool first = true;
      for (const AnyValue& e : v.array_value().values()) {
        if (!first) out->push_back(',');
        first = false;
        AppendValue(e, out);
      }
      out->push_back(']');
      break;
    }
    case AnyValue::kKvlistValue:
      out->push_back('{');
      AppendAttributes(v.kvlist_value().values(), out);
      out->push_back('}');
      break;
    case AnyValue::kBytesValue:
      out->append(absl::Base64Escape(v.bytes_value()));
      break;
    case AnyValue::kStringValueStrindex:
      absl::StrAppend(out, "strindex:", v.string_value_strindex());
      break;
    case AnyValue::VALUE_NOT_SET:
      break;
  }
}

template <class Resource>
void AppendResourceHeader(std::string_view kind, int index, const Resource& r, std::string* out) {
  absl::StrAppend(out, "\n", absl::string_view(kind.data(), kind.size()), " #", index);
  if (!r.schema_url().empty()) absl::StrAppend(out, " [", r.schema_url(), "]");
  if (r.resource().attributes_size() > 0) {
    out->push_back(' ');
    AppendAttributes(r.resource().attributes(), out);
  }
}

template <class Scope>
void AppendScopeHeader(std::string_view kind, int index, const Scope& s, std::string* out) {
  const InstrumentationScope& scope = s.scope();
  absl::StrAppend(out, "\n", absl::string_view(kind.data(), kind.size()), " #", index, " ",
                  scope.name());
  if (!scope.version().empty()) absl::StrAppend(out, "@", scope.version());
  if (!s.schema_url().empty()) absl::StrAppend(out, " [", s.schema_url(), "]");
  if (scope.attributes_size() > 0) {
    out->push_back(' ');
    AppendAttributes(scope.attributes(), out);
  }
}

template <class Point>
void AppendPointAttributes(const Point& p, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const KeyValue& kv : p.attributes()) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, kv.key(), "=");
    AppendValue(kv.value(), out);
  }
  out->push_back('}');
}

// One line per data point: name{attributes} value(s).
void AppendMetric(const Metric& m, std::string* out) {
  auto number = [&](const auto& points) {
    for (const auto& p : points) {
      absl::StrAppend(out, "\n", m.name(), "");
      AppendPointAttributes(p, out);
      if (p.value_case() == p.kAsInt) {
        absl::StrAppend(out, " ", p.as_int());
      } else {
        absl::StrAppend(out, " ", p.as_double());
      }
    }
  };
  switch (m.data_case()) {
    case Metric::kGauge:
      number(m.gauge().data_points());
      break;
    case Metric::kSum:
      number(m.sum().data_points());
      break;
    case Metric::kHistogram:
      for (const auto& p : m.histogram().data_points()) {
        absl::StrAppend(out, "\n", m.name());
        AppendPointAttributes(p, out);
        absl::StrAppend(out, " count=", p.count());
        if (p.has_sum()) absl::StrAppend(out, " sum=", p.sum());
        if (p.has_min()) absl::StrAppend(out, " min=", p.min());
        if (p.has_max()) absl::StrAppend(out, " max=", p.max());
        for (int i = 0; i < p.bucket_counts_size(); ++i) {
          if (i < p.explicit_bounds_size()) {
            absl::StrAppend(out, " le", p.explicit_bounds(i), "=", p.bucket_counts(i));
          } else {
            absl::StrAppend(out, " leInf=", p.bucket_counts(i));
          }
        }
      }
      break;
    case Metric::kExponentialHistogram:
      for (const auto& p : m.exponential_histogram().data_points()) {
        absl::StrAppend(out, "\n", m.name());
        AppendPointAttributes(p, out);
        absl::StrAppend(out, " count=", p.count());
        if (p.has_sum()) absl::StrAppend(out, " sum=", p.sum());
        absl::StrAppend(out, " scale=", p.scale(), " zero_count=", p.zero_count());
      }
      break;
    case Metric::kSummary:
      for (const auto& p : m.summary().data_points()) {
        absl::StrAppend(out, "\n", m.name());
        AppendPointAttributes(p, out);
        absl::StrAppend(out, " count=", p.count(), " sum=", p.sum());
        for (const auto& q : p.quantile_values()) {
          absl::StrAppend(out, " q", q.quantile(), "=", q.value());
        }
      }
      break;
    case Metric::DATA_NOT_SET:
      absl::StrAppend(out, "\n", m.name(), " (no data)");
      break;
  }
}

std::string Summary(const Telemetry& data, const std::string& id) {
  switch (data.signal()) {
    case Signal::kTraces:
      return absl::StrFormat(
          "Traces\t{\"otelcol.component.id\": \"%s\", \"resource spans\": %d, \"spans\": %d}", id,
          data.traces().resource_spans_size(), data.ItemCount());
    case Signal::kMetrics: {
      size_t metrics = 0;
      for (const auto& rm : data.metrics().resource_metrics()) {
        for (const auto& sm : rm.scope_metrics()) metrics += sm.metrics_size();
      }
      return absl::StrFormat(
          "Metrics\t{\"otelcol.component.id\": \"%s\", \"resource metrics\": %d, \"metrics\": %d, "
          "\"data points\": %d}",
          id, data.metrics().resource_metrics_size(), metrics, data.ItemCount());
    }
    case Signal::kLogs:
      return absl::StrFormat(
          "Logs\t{\"otelcol.component.id\": \"%s\", \"resource logs\": %d, \"log records\": %d}",
          id, data.logs().resource_logs_size(), data.ItemCount());
  }
  return "";
}

// otelcol's "normal" verbosity: one line per resource, scope and item.
void AppendNormal(const Telemetry& data, std::string* out) {
  switch (data.signal()) {
    case Signal::kTraces: {
      int ri = 0;
      for (const auto& rs : data.traces().resource_spans()) {
        AppendResourceHeader("ResourceSpans", ri++, rs, out);
        int si = 0;
        for (const auto& ss : rs.scope_spans()) {
          AppendScopeHeader("ScopeSpans", si++, ss, out);
          for (const auto& span : ss.spans()) {
            absl::StrAppend(out, "\n", span.name(), " ", absl::BytesToHexString(span.trace_id()),
                            " ", absl::BytesToHexString(span.span_id()));
            if (span.attributes_size() > 0) {
              out->push_back(' ');
              AppendAttributes(span.attributes(), out);
            }
          }
        }
      }
      break;
    }
    case Signal::kMetrics: {
      int ri = 0;
      for (const auto& rm : data.metrics().resource_metrics()) {
        AppendResourceHeader("ResourceMetrics", ri++, rm, out);
        int si = 0;
        for (const auto& sm : rm.scope_metrics()) {
          AppendScopeHeader("ScopeMetrics", si++, sm, out);
          for (const auto& m : sm.metrics()) AppendMetric(m, out);
        }
      }
      break;
    }
    case Signal::kLogs: {
      int ri = 0;
      for (const auto& rl : data.logs().resource_logs()) {
        AppendResourceHeader("ResourceLog", ri++, rl, out);
        int si = 0;
        for (const auto& sl : rl.scope_logs()) {
          AppendScopeHeader("ScopeLog", si++, sl, out);
          for (const auto& record : sl.log_records()) {
            out->push_back('\n');
            AppendValue(record.body(), out);
            if (record.attributes_size() > 0) {
              out->push_back(' ');
              AppendAttributes(record.attributes(), out);
            }
          }
        }
      }
      break;
    }
  }
}

}  // namespace

std::string DescribeTelemetry(const Telemetry& data, DebugVerbosity verbosity,
                              const std::string& component_id) {
  std::string text = Summary(data, component_id);
  switch (verbosity) {
    case DebugVerbosity::kBasic:
      break;
    case DebugVerbosity::kNormal:
      AppendNormal(data, &text);
      break;
    case DebugVerbosity::kDetailed:
      absl::StrAppend(&text, "\n", EncodeOtlpJson(data.message()));
      break;
  }
  return text;
}

DebugExporter::DebugExporter(const CreateSettings& settings, const DebugExporterConfig& config)
    : id_(settings.id.ToString()), config_(config), metrics_(settings) {}

bool DebugExporter::Sample(Signal signal) {
  const int64_t second = absl::ToUnixSeconds(absl::Now());
  absl::MutexLock lock(&mu_);
  Window& w = windows_[static_cast<int>(signal)];
  if (w.second != second) {
    w.second = second;
    w.count = 0;
  }
  const int64_t n = ++w.count;
  if (n <= config_.sampling_initial) return true;
  if (config_.sampling_thereafter <= 0) return false;
  return (n - config_.sampling_initial) % config_.sampling_thereafter == 0;
}

void DebugExporter::Consume(TelemetryPtr data, Completion done) {
  if (Sample(data->signal())) {
    std::string text = DescribeTelemetry(*data, config_.verbosity, id_);
    if (config_.use_internal_logger) {
      spdlog::info("{}", text);
    } else {
      text.push_back('\n');
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    }
  }
  // Sampled-out requests count as sent too: they were handled as configured.
  metrics_.Record(data->signal(), data->ItemCount(), absl::OkStatus());
  std::move(done)(absl::OkStatus());
}

}  // namespace otlpd
