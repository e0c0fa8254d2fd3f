#include "extensions/query/api_v1.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "extensions/query/json_writer.h"
#include "extensions/query/logs_json.h"
#include "extensions/query/metrics_math.h"
#include "extensions/query/query_params.h"

namespace otlpd::query {

namespace {

using opentelemetry::proto::common::v1::InstrumentationScope;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::metrics::v1::AggregationTemporality;
using opentelemetry::proto::metrics::v1::Metric;
using opentelemetry::proto::metrics::v1::MetricsData;
using opentelemetry::proto::metrics::v1::NumberDataPoint;
using opentelemetry::proto::metrics::v1::SummaryDataPoint;
using opentelemetry::proto::resource::v1::Resource;
using storage::StoreReader;

constexpr size_t kDefaultLogLimit = 100;
constexpr int64_t kMaxBuckets = 11000;    // Prometheus' limit of points per series
constexpr uint32_t kNoRecordedValue = 1;  // DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK

struct Window {
  absl::Time start;
  absl::Time end;
};

absl::StatusOr<Window> ParseWindow(const HttpRequest& request, const ApiContext& context) {
  Window w{context.now - context.config->default_lookback, context.now};
  if (const std::string text = Param(request, "end"); !text.empty()) {
    absl::StatusOr<absl::Time> t = ParseApiTime(text);
    if (!t.ok()) return ParamError("end", t.status());
    w.end = *t;
    w.start = w.end - context.config->default_lookback;
  }
  if (const std::string text = Param(request, "start"); !text.empty()) {
    absl::StatusOr<absl::Time> t = ParseApiTime(text);
    if (!t.ok()) return ParamError("start", t.status());
    w.start = *t;
  }
  if (w.end < w.start) return ParamError("end", "end is before start");
  return w;
}

absl::StatusOr<std::string> Logs(const HttpRequest& request, ApiContext& context) {
  storage::LogQuery query;
  query.words = SplitWords(Param(request, "q"));
  query.service = Param(request, "service");
  if (const std::string text = Param(request, "traceId"); !text.empty()) {
    absl::StatusOr<storage::TraceId> id = ParseTraceIdHex(text);
    if (!id.ok()) return ParamError("traceId", id.status());
    query.trace_id = *id;
  }
  if (const std::string text = Param(request, "severity"); !text.empty()) {
    absl::StatusOr<int> severity = ParseSeverity(text);
    if (!severity.ok()) return ParamError("severity", severity.status());
    query.min_severity = *severity;
  }
  absl::StatusOr<Window> window = ParseWindow(request, context);
  if (!window.ok()) return window.status();
  query.time = {window->start, window->end};
  absl::StatusOr<size_t> limit =
      ParseLimitParam(request, "limit", kDefaultLogLimit, *context.config);
  if (!limit.ok()) return limit.status();
  query.limit = *limit;

  absl::StatusOr<StoreReader*> store = context.store();
  if (!store.ok()) return store.status();
  absl::StatusOr<opentelemetry::proto::logs::v1::LogsData> logs = (*store)->FindLogs(query);
  if (!logs.ok()) return StoreError(logs.status());
  std::string data;
  JsonWriter json(&data);
  const size_t n = WriteLogRecords(*logs, LogOrder::kNewestFirst, query.limit, &json);
  return JaegerEnvelope(data, static_cast<int64_t>(n), static_cast<int64_t>(query.limit));
}

// One series: a metric's points with equal resource, scope and point attributes.
struct Series {
  Metric::DataCase type = Metric::DATA_NOT_SET;
  const Metric* metric = nullptr;  // unit, description, temporality (of the first point)
  const Resource* resource = nullptr;
  const InstrumentationScope* scope = nullptr;
  const google::protobuf::RepeatedPtrField<KeyValue>* attributes = nullptr;
  std::vector<CounterSample> numbers;
  std::vector<HistogramSample> histograms;
  std::vector<std::pair<int64_t, const SummaryDataPoint*>> summaries;
};

std::string CanonicalAttributes(const google::protobuf::RepeatedPtrField<KeyValue>& attrs) {
  std::map<std::string, std::string> sorted;
  for (const KeyValue& kv : attrs) sorted[kv.key()] = AnyValueAsString(kv.value());
  std::string out;
  for (const auto& [k, v] : sorted) absl::StrAppend(&out, k.size(), ":", k, v.size(), ":", v);
  return out;
}

const char* TypeName(Metric::DataCase type) {
  switch (type) {
    case Metric::kGauge:
      return "gauge";
    case Metric::kSum:
      return "sum";
    case Metric::kHistogram:
      return "histogram";
    case Metric::kExponentialHistogram:
      return "exponential_histogram";
    case Metric::kSummary:
      return "summary";
    default:
      return "unknown";
  }
}

int64_t Ns(uint64_t ns) { return static_cast<int64_t>(ns); }

// Adds the points of `metric` to their series (keyed by what identifies a series).
void Collect(const Metric& metric, const Resource& resource, const InstrumentationScope& scope,
             std::map<std::string, Series>* series) {
  const std::string prefix =
      absl::StrCat(TypeName(metric.data_case()), "|", CanonicalAttributes(resource.attributes()),
                   "|", scope.name(), "|", scope.version(), "|");
  const auto series_for = [&](const auto& point) -> Series& {
    Series& s = (*series)[prefix + CanonicalAttributes(point.attributes())];
    if (s.metric == nullptr) {
      s.type = metric.data_case();
      s.metric = &metric;
      s.resource = &resource;
      s.scope = &scope;
      s.attributes = &point.attributes();
    }
    return s;
  };
  const auto number = [&](const NumberDataPoint& p) {
    if ((p.flags() & kNoRecordedValue) != 0) return;
    const double v =
        p.value_case() == NumberDataPoint::kAsInt ? static_cast<double>(p.as_int()) : p.as_double();
    series_for(p).numbers.push_back({Ns(p.time_unix_nano()), Ns(p.start_time_unix_nano()), v});
  };
  switch (metric.data_case()) {
    case Metric::kGauge:
      for (const NumberDataPoint& p : metric.gauge().data_points()) number(p);
      break;
    case Metric::kSum:
      for (const NumberDataPoint& p : metric.sum().data_points()) number(p);
      break;
    case Metric::kHistogram:
      for (const auto& p : metric.histogram().data_points()) {
        if ((p.flags() & kNoRecordedValue) != 0) continue;
        HistogramSample h;
        h.time_ns = Ns(p.time_unix_nano());
        h.start_ns = Ns(p.start_time_unix_nano());
        h.count = static_cast<double>(p.count());
        h.sum = p.has_sum() ? p.sum() : 0;
        if (p.has_min()) h.min = p.min();
        if (p.has_max()) h.max = p.max();
        h.bounds.assign(p.explicit_bounds().begin(), p.explicit_bounds().end());
        for (uint64_t c : p.bucket_counts()) h.bucket_counts.push_back(static_cast<double>(c));
        series_for(p).histograms.push_back(std::move(h));
      }
      break;
    case Metric::kExponentialHistogram:
      for (const auto& p : metric.exponential_histogram().data_points()) {
        if ((p.flags() & kNoRecordedValue) != 0) continue;
        HistogramSample h;
        h.time_ns = Ns(p.time_unix_nano());
        h.start_ns = Ns(p.start_time_unix_nano());
        h.count = static_cast<double>(p.count());
        h.sum = p.has_sum() ? p.sum() : 0;
        if (p.has_min()) h.min = p.min();
        if (p.has_max()) h.max = p.max();
        std::vector<double> pos(p.positive().bucket_counts().begin(),
                                p.positive().bucket_counts().end());
        std::vector<double> neg(p.negative().bucket_counts().begin(),
                                p.negative().bucket_counts().end());
        h.expo = ExpoHistogram::FromBuckets(p.scale(), static_cast<double>(p.zero_count()),
                                            p.zero_threshold(), p.positive().offset(), pos,
                                            p.negative().offset(), neg);
        series_for(p).histograms.push_back(std::move(h));
      }
      break;
    case Metric::kSummary:
      for (const SummaryDataPoint& p : metric.summary().data_points()) {
        if ((p.flags() & kNoRecordedValue) != 0) continue;
        series_for(p).summaries.emplace_back(Ns(p.time_unix_nano()), &p);
      }
      break;
    default:
      break;
  }
}

absl::StatusOr<std::vector<double>> ParseQuantiles(const HttpRequest& request) {
  std::string text = Param(request, "quantile");
  if (text.empty()) text = "0.5,0.95,0.99";
  std::vector<double> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    double q = 0;
    if (!absl::SimpleAtod(part, &q) || !(q >= 0 && q <= 1)) {
      return ParamError("quantile", absl::StrCat("not a number within 0..1: \"", part, "\""));
    }
    out.push_back(q);
  }
  if (out.empty()) return ParamError("quantile", "no quantile given");
  return out;
}

std::string QuantileKey(double q) {
  std::string key;
  AppendDouble(q, &key);
  return key;
}

void WriteQuantiles(const std::vector<double>& quantiles, const std::vector<Range>& ranges,
                    JsonWriter* json) {
  json->BeginObject();
  for (double q : quantiles) {
    json->Key(QuantileKey(q));
    std::optional<double> v = Quantile(q, ranges);
    if (v.has_value()) {
      json->Double(*v);
    } else {
      json->Null();
    }
  }
  json->EndObject();
}

void WriteValues(const std::vector<StepValue>& values, JsonWriter* json) {
  json->BeginArray();
  for (const StepValue& v : values) {
    json->BeginObject();
    json->Key("timestamp");
    json->Int(v.bucket_ns / 1000000);
    json->Key("value");
    json->Double(v.value);
    json->EndObject();
  }
  json->EndArray();
}

absl::StatusOr<std::string> Metrics(const HttpRequest& request, ApiContext& context) {
  storage::MetricQuery query;
  query.name = Param(request, "name");
  if (query.name.empty()) return absl::InvalidArgumentError("parameter 'name' is required");
  for (const auto& [key, value] : request.params) {
    absl::string_view k = key;
    if (absl::ConsumePrefix(&k, "match[")) {
      if (!absl::ConsumeSuffix(&k, "]") || k.empty()) {
        return ParamError(key, "expecting match[attribute]=value");
      }
      query.match.emplace_back(std::string(k), value);
    }
  }
  absl::StatusOr<Window> window = ParseWindow(request, context);
  if (!window.ok()) return window.status();
  absl::Duration step;
  if (const std::string text = Param(request, "step"); !text.empty()) {
    absl::StatusOr<absl::Duration> s = ParseStep(text);
    if (!s.ok()) return ParamError("step", s.status());
    step = *s;
  } else {
    step = std::max(
        absl::Seconds(1),
        absl::Seconds(std::ceil(absl::ToDoubleSeconds(window->end - window->start) / 300)));
  }
  const int64_t step_ns = std::max<int64_t>(1, absl::ToInt64Nanoseconds(step));
  const int64_t from_ns = absl::ToUnixNanos(window->start);
  const int64_t to_ns = absl::ToUnixNanos(window->end);
  const int64_t buckets = (StepBucket(to_ns, step_ns) - StepBucket(from_ns, step_ns)) / step_ns + 1;
  if (buckets > kMaxBuckets) {
    return ParamError("step", absl::StrCat("too many points (", buckets, " > ", kMaxBuckets,
                                           "); use a larger step or a shorter window"));
  }
  absl::StatusOr<std::vector<double>> quantiles = ParseQuantiles(request);
  if (!quantiles.ok()) return quantiles.status();

  // One step before the first bucket too: the baseline of rates and histogram increases.
  const int64_t fetch_from_ns = StepBucket(from_ns, step_ns) - step_ns;
  query.time = {absl::FromUnixNanos(fetch_from_ns), window->end};
  absl::StatusOr<StoreReader*> store = context.store();
  if (!store.ok()) return store.status();
  absl::StatusOr<MetricsData> data = (*store)->FindMetrics(query);
  if (!data.ok()) return StoreError(data.status());

  std::map<std::string, Series> series;
  for (const auto& rm : data->resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) {
      for (const Metric& m : sm.metrics()) {
        if (m.name() == query.name) Collect(m, rm.resource(), sm.scope(), &series);
      }
    }
  }

  std::string body;
  JsonWriter json(&body);
  json.BeginObject();
  json.Key("name");
  json.String(query.name);
  json.Key("start");
  json.Int(from_ns / 1000000);
  json.Key("end");
  json.Int(to_ns / 1000000);
  json.Key("step");
  json.Int(step_ns / 1000000);
  json.Key("series");
  json.BeginArray();
  for (auto& [key, s] : series) {
    const auto by_time = [](const auto& a, const auto& b) { return a.time_ns < b.time_ns; };
    std::stable_sort(s.numbers.begin(), s.numbers.end(), by_time);
    std::stable_sort(s.histograms.begin(), s.histograms.end(), by_time);
    std::stable_sort(s.summaries.begin(), s.summaries.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    const Metric& m = *s.metric;
    bool cumulative = true;
    json.BeginObject();
    json.Key("type");
    json.String(TypeName(s.type));
    json.Key("unit");
    json.String(m.unit());
    json.Key("description");
    json.String(m.description());
    if (s.type == Metric::kSum) {
      json.Key("monotonic");
      json.Bool(m.sum().is_monotonic());
    }
    AggregationTemporality temporality =
        opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_UNSPECIFIED;
    if (s.type == Metric::kSum) temporality = m.sum().aggregation_temporality();
    if (s.type == Metric::kHistogram) temporality = m.histogram().aggregation_temporality();
    if (s.type == Metric::kExponentialHistogram) {
      temporality = m.exponential_histogram().aggregation_temporality();
    }
    if (s.type == Metric::kSum || s.type == Metric::kHistogram ||
        s.type == Metric::kExponentialHistogram) {
      cumulative = temporality != opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_DELTA;
      json.Key("temporality");
      json.String(cumulative ? "cumulative" : "delta");
    }
    const bool rate = s.type == Metric::kSum && m.sum().is_monotonic();
    const bool quantile_points = s.type == Metric::kHistogram ||
                                 s.type == Metric::kExponentialHistogram ||
                                 s.type == Metric::kSummary;
    json.Key("value");
    json.String(quantile_points ? "quantiles" : rate ? "rate" : "last");
    json.Key("resource");
    WriteAttributes(s.resource->attributes(), &json);
    json.Key("scope");
    json.BeginObject();
    json.Key("name");
    json.String(s.scope->name());
    json.Key("version");
    json.String(s.scope->version());
    json.EndObject();
    json.Key("attributes");
    WriteAttributes(*s.attributes, &json);
    json.Key("points");
    if (s.type == Metric::kGauge || s.type == Metric::kSum) {
      WriteValues(rate ? RatePerStep(s.numbers, cumulative, step_ns, from_ns, to_ns, fetch_from_ns)
                       : LastPerStep(s.numbers, step_ns, from_ns, to_ns),
                  &json);
    } else if (s.type == Metric::kSummary) {
      // The last summary point of each bucket, with the quantiles it reports.
      std::vector<std::pair<int64_t, const SummaryDataPoint*>> last;
      for (const auto& [t, p] : s.summaries) {
        const int64_t b = StepBucket(t, step_ns);
        if (b < StepBucket(from_ns, step_ns) || b > StepBucket(to_ns, step_ns)) continue;
        if (!last.empty() && last.back().first == b) {
          last.back().second = p;
        } else {
          last.emplace_back(b, p);
        }
      }
      json.BeginArray();
      for (const auto& [b, p] : last) {
        json.BeginObject();
        json.Key("timestamp");
        json.Int(b / 1000000);
        json.Key("count");
        json.Uint(p->count());
        json.Key("sum");
        json.Double(p->sum());
        json.Key("quantiles");
        json.BeginObject();
        for (double q : *quantiles) {
          json.Key(QuantileKey(q));
          bool found = false;
          for (const auto& qv : p->quantile_values()) {
            if (std::abs(qv.quantile() - q) < 1e-9) {
              json.Double(qv.value());
              found = true;
              break;
            }
          }
          if (!found) json.Null();
        }
        json.EndObject();
        json.EndObject();
      }
      json.EndArray();
    } else {
      json.BeginArray();
      for (const HistogramStep& h :
           HistogramPerStep(s.histograms, cumulative, step_ns, from_ns, to_ns, fetch_from_ns)) {
        json.BeginObject();
        json.Key("timestamp");
        json.Int(h.bucket_ns / 1000000);
        json.Key("count");
        json.Double(h.count);
        json.Key("sum");
        json.Double(h.sum);
        json.Key("quantiles");
        WriteQuantiles(*quantiles, h.ranges, &json);
        json.EndObject();
      }
      json.EndArray();
    }
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return JaegerEnvelope(body, static_cast<int64_t>(series.size()));
}

}  // namespace

std::optional<HttpResponse> HandleApiV1(const HttpRequest& request, absl::string_view route,
                                        ApiContext& context) {
  absl::StatusOr<std::string> body;
  if (route == "/api/v1/logs") {
    body = Logs(request, context);
  } else if (route == "/api/v1/metrics") {
    body = Metrics(request, context);
  } else {
    return std::nullopt;
  }
  if (!body.ok()) return JaegerErrorResponse(body.status());
  return JsonResponse(200, std::move(*body));
}

}  // namespace otlpd::query
