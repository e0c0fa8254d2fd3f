#include "testing/otlp_data.h"

#include <google/protobuf/util/message_differencer.h>

#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"
#include "testing/wait.h"

namespace otlpd::testing {
namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::InstrumentationScope;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::resource::v1::Resource;
namespace trace = opentelemetry::proto::trace::v1;
namespace metrics = opentelemetry::proto::metrics::v1;
namespace logs = opentelemetry::proto::logs::v1;

// splitmix64: a tiny deterministic mixer for ids and values.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string Bytes64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (56 - 8 * i));
  return out;
}

constexpr uint64_t kBaseTime = 1700000000000000000ULL;  // 2023-11-14, in ns

KeyValue* AddString(google::protobuf::RepeatedPtrField<KeyValue>* attrs, std::string key,
                    std::string value) {
  KeyValue* kv = attrs->Add();
  kv->set_key(std::move(key));
  kv->mutable_value()->set_string_value(std::move(value));
  return kv;
}

void AddRichAttributes(google::protobuf::RepeatedPtrField<KeyValue>* attrs, uint64_t salt) {
  AddString(attrs, "str", absl::StrCat("value-", salt));
  // Characters a JSON encoder must escape, and non-ASCII UTF-8.
  AddString(attrs, "odd.string", "quote\" backslash\\ slash/ nl\n tab\t ctl\x01 é 日本 😀");
  AddString(attrs, "empty.string", "");
  KeyValue* kv = attrs->Add();
  kv->set_key("int");
  kv->mutable_value()->set_int_value(-static_cast<int64_t>(salt) - 1);
  kv = attrs->Add();
  kv->set_key("int.max");
  kv->mutable_value()->set_int_value(INT64_MAX);
  kv = attrs->Add();
  kv->set_key("double");
  kv->mutable_value()->set_double_value(0.1 + static_cast<double>(salt % 1000));
  kv = attrs->Add();
  kv->set_key("bool");
  kv->mutable_value()->set_bool_value(salt % 2 == 0);
  kv = attrs->Add();
  kv->set_key("bytes");
  kv->mutable_value()->set_bytes_value(std::string("\x00\xff\x10 bin", 7));
  kv = attrs->Add();
  kv->set_key("array");
  auto* array = kv->mutable_value()->mutable_array_value();
  array->add_values()->set_string_value("a");
  array->add_values()->set_int_value(2);
  array->add_values()->set_double_value(3.5);
  kv = attrs->Add();
  kv->set_key("kvlist");
  auto* list = kv->mutable_value()->mutable_kvlist_value();
  AddString(list->mutable_values(), "nested", "yes");
  KeyValue* inner = list->add_values();
  inner->set_key("nested.array");
  inner->mutable_value()->mutable_array_value()->add_values()->set_bool_value(true);
  kv = attrs->Add();
  kv->set_key("no.value");  // an AnyValue with nothing set
  kv->mutable_value();
}

void FillResource(Resource* resource, const SampleOptions& o, int r) {
  AddString(resource->mutable_attributes(), "service.name", o.service_name);
  AddString(resource->mutable_attributes(), "otlpd.test.seed", absl::StrCat(o.seed));
  AddString(resource->mutable_attributes(), "otlpd.test.resource", absl::StrCat(r));
  if (o.rich) resource->set_dropped_attributes_count(1);
}

void FillScope(InstrumentationScope* scope, const SampleOptions& o, int s) {
  scope->set_name(absl::StrCat("otlpd.test.scope.", s));
  scope->set_version("1.2.3");
  if (o.rich) AddString(scope->mutable_attributes(), "scope.attr", "x");
}

std::string Padding(const SampleOptions& o, uint64_t salt) {
  std::string pad(static_cast<size_t>(o.padding_bytes), 'p');
  for (size_t i = 0; i < pad.size(); i += 64)
    pad[i] = static_cast<char>('a' + (Mix(salt + i) % 26));
  return pad;
}

}  // namespace

std::string MakeTraceId(uint64_t seed, uint64_t index) {
  uint64_t hi = Mix(seed * 1000003 + index);
  uint64_t lo = Mix(hi ^ (index + 17));
  if (hi == 0 && lo == 0) lo = 1;
  return Bytes64(hi) + Bytes64(lo);
}

std::string MakeSpanId(uint64_t seed, uint64_t index) {
  uint64_t v = Mix(Mix(seed) + index * 7919);
  if (v == 0) v = 1;
  return Bytes64(v);
}

std::string HexId(std::string_view bytes) {
  return absl::BytesToHexString(absl::string_view(bytes.data(), bytes.size()));
}

TracesRequest MakeTraces(const SampleOptions& o) {
  TracesRequest req;
  uint64_t index = 0;
  for (int r = 0; r < o.resources; ++r) {
    auto* rs = req.add_resource_spans();
    FillResource(rs->mutable_resource(), o, r);
    rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
    for (int s = 0; s < o.scopes_per_resource; ++s) {
      auto* ss = rs->add_scope_spans();
      FillScope(ss->mutable_scope(), o, s);
      for (int i = 0; i < o.items_per_scope; ++i, ++index) {
        trace::Span* span = ss->add_spans();
        span->set_trace_id(MakeTraceId(o.seed, index));
        span->set_span_id(MakeSpanId(o.seed, index));
        span->set_name(absl::StrCat("span-", o.seed, "-", index));
        span->set_kind(static_cast<trace::Span::SpanKind>(1 + index % 5));
        span->set_start_time_unix_nano(kBaseTime + index * 1000);
        span->set_end_time_unix_nano(kBaseTime + index * 1000 + 500 + o.seed);
        if (o.padding_bytes > 0)
          AddString(span->mutable_attributes(), "padding", Padding(o, index));
        if (!o.rich) continue;
        span->set_parent_span_id(MakeSpanId(o.seed + 1, index));
        span->set_trace_state("vendor=value");
        span->set_flags(0x101);
        AddRichAttributes(span->mutable_attributes(), o.seed + index);
        span->set_dropped_attributes_count(2);
        auto* event = span->add_events();
        event->set_time_unix_nano(kBaseTime + index * 1000 + 10);
        event->set_name("event");
        AddString(event->mutable_attributes(), "event.attr", "e");
        span->set_dropped_events_count(3);
        auto* link = span->add_links();
        link->set_trace_id(MakeTraceId(o.seed + 1, index));
        link->set_span_id(MakeSpanId(o.seed + 2, index));
        link->set_trace_state("k=v");
        link->set_flags(1);
        AddString(link->mutable_attributes(), "link.attr", "l");
        span->mutable_status()->set_code(trace::Status::STATUS_CODE_ERROR);
        span->mutable_status()->set_message("boom");
      }
    }
  }
  return req;
}

MetricsRequest MakeMetrics(const SampleOptions& o) {
  MetricsRequest req;
  uint64_t index = 0;
  for (int r = 0; r < o.resources; ++r) {
    auto* rm = req.add_resource_metrics();
    FillResource(rm->mutable_resource(), o, r);
    for (int s = 0; s < o.scopes_per_resource; ++s) {
      auto* sm = rm->add_scope_metrics();
      FillScope(sm->mutable_scope(), o, s);
      for (int i = 0; i < o.items_per_scope; ++i, ++index) {
        metrics::Metric* m = sm->add_metrics();
        m->set_name(absl::StrCat("metric.", o.seed, ".", index));
        m->set_description("a test metric");
        m->set_unit("ms");
        const uint64_t t = kBaseTime + index * 1000;
        // Plain metrics cycle through gauge/sum/histogram; rich ones through all five kinds.
        switch (index % (o.rich ? 5 : 3)) {
          case 0: {
            auto* p = m->mutable_gauge()->add_data_points();
            p->set_time_unix_nano(t);
            p->set_as_double(1.5 + static_cast<double>(index));
            AddString(p->mutable_attributes(), "k", "v");
            if (o.padding_bytes > 0)
              AddString(p->mutable_attributes(), "padding", Padding(o, index));
            if (o.rich) {
              auto* e = p->add_exemplars();
              e->set_time_unix_nano(t);
              e->set_as_int(7);
              e->set_trace_id(MakeTraceId(o.seed, index));
              e->set_span_id(MakeSpanId(o.seed, index));
              AddString(e->mutable_filtered_attributes(), "f", "g");
              auto* p2 = m->mutable_gauge()->add_data_points();
              p2->set_time_unix_nano(t);
              p2->set_as_int(-42);
              p2->set_flags(1);
            }
            break;
          }
          case 1: {
            auto* sum = m->mutable_sum();
            sum->set_aggregation_temporality(metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
            sum->set_is_monotonic(true);
            for (int k = 0; k < 2; ++k) {
              auto* p = sum->add_data_points();
              p->set_start_time_unix_nano(kBaseTime);
              p->set_time_unix_nano(t);
              p->set_as_int(static_cast<int64_t>(index * 10 + k));
              AddString(p->mutable_attributes(), "k", absl::StrCat("v", k));
              if (o.padding_bytes > 0)
                AddString(p->mutable_attributes(), "padding", Padding(o, index));
            }
            break;
          }
          case 2: {
            auto* h = m->mutable_histogram();
            h->set_aggregation_temporality(metrics::AGGREGATION_TEMPORALITY_DELTA);
            auto* p = h->add_data_points();
            p->set_start_time_unix_nano(kBaseTime);
            p->set_time_unix_nano(t);
            p->set_count(6);
            p->set_sum(21.25);
            p->add_explicit_bounds(1);
            p->add_explicit_bounds(5.5);
            p->add_bucket_counts(1);
            p->add_bucket_counts(2);
            p->add_bucket_counts(3);
            if (o.padding_bytes > 0)
              AddString(p->mutable_attributes(), "padding", Padding(o, index));
            if (o.rich) {
              p->set_min(0.25);
              p->set_max(9.75);
              AddRichAttributes(p->mutable_attributes(), index);
            }
            break;
          }
          case 3: {
            auto* eh = m->mutable_exponential_histogram();
            eh->set_aggregation_temporality(metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
            auto* p = eh->add_data_points();
            p->set_start_time_unix_nano(kBaseTime);
            p->set_time_unix_nano(t);
            p->set_count(10);
            p->set_sum(-3.5);
            p->set_scale(-2);
            p->set_zero_count(1);
            p->set_zero_threshold(1e-9);
            p->mutable_positive()->set_offset(-3);
            p->mutable_positive()->add_bucket_counts(4);
            p->mutable_positive()->add_bucket_counts(0);
            p->mutable_positive()->add_bucket_counts(2);
            p->mutable_negative()->set_offset(1);
            p->mutable_negative()->add_bucket_counts(3);
            p->set_min(-8);
            p->set_max(4);
            break;
          }
          case 4: {
            auto* p = m->mutable_summary()->add_data_points();
            p->set_start_time_unix_nano(kBaseTime);
            p->set_time_unix_nano(t);
            p->set_count(4);
            p->set_sum(10);
            auto* q = p->add_quantile_values();
            q->set_quantile(0.5);
            q->set_value(2);
            q = p->add_quantile_values();
            q->set_quantile(0.99);
            q->set_value(4);
            break;
          }
        }
        if (o.rich) AddString(m->mutable_metadata(), "meta", "data");
      }
    }
  }
  return req;
}

LogsRequest MakeLogs(const SampleOptions& o) {
  LogsRequest req;
  uint64_t index = 0;
  for (int r = 0; r < o.resources; ++r) {
    auto* rl = req.add_resource_logs();
    FillResource(rl->mutable_resource(), o, r);
    for (int s = 0; s < o.scopes_per_resource; ++s) {
      auto* sl = rl->add_scope_logs();
      FillScope(sl->mutable_scope(), o, s);
      for (int i = 0; i < o.items_per_scope; ++i, ++index) {
        logs::LogRecord* rec = sl->add_log_records();
        rec->set_time_unix_nano(kBaseTime + index * 1000);
        rec->set_observed_time_unix_nano(kBaseTime + index * 1000 + 1);
        rec->set_severity_number(logs::SEVERITY_NUMBER_WARN);
        rec->set_severity_text("WARN");
        rec->mutable_body()->set_string_value(absl::StrCat("log ", o.seed, " ", index));
        rec->set_trace_id(MakeTraceId(o.seed, index));
        rec->set_span_id(MakeSpanId(o.seed, index));
        if (o.padding_bytes > 0) AddString(rec->mutable_attributes(), "padding", Padding(o, index));
        if (!o.rich) continue;
        rec->set_flags(1);
        rec->set_event_name("test.event");
        AddRichAttributes(rec->mutable_attributes(), index);
        rec->set_dropped_attributes_count(1);
        if (index % 2 == 1) {
          // A structured body instead of a string.
          auto* list = rec->mutable_body()->mutable_kvlist_value();
          AddString(list->mutable_values(), "message", "structured");
          KeyValue* kv = list->add_values();
          kv->set_key("count");
          kv->mutable_value()->set_int_value(static_cast<int64_t>(index));
        }
      }
    }
  }
  return req;
}

std::set<std::string> TraceIds(const std::vector<TracesRequest>& requests, int* duplicates) {
  std::set<std::string> ids;
  std::set<std::string> span_keys;
  int dup = 0;
  for (const auto& req : requests) {
    for (const auto& rs : req.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          ids.insert(HexId(span.trace_id()));
          if (!span_keys.insert(span.trace_id() + span.span_id()).second) ++dup;
        }
      }
    }
  }
  if (duplicates != nullptr) *duplicates = dup;
  return ids;
}

std::string ProtoDiff(const google::protobuf::Message& expected,
                      const google::protobuf::Message& actual) {
  std::string report;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&report);
  if (differ.Compare(expected, actual)) return "";
  if (report.size() > 4000) report = report.substr(0, 4000) + "...";
  return report.empty() ? "messages differ" : report;
}

std::vector<std::string> ReadCompleteLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  if (!in) return lines;
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string content = ss.str();
  size_t start = 0;
  while (true) {
    size_t nl = content.find('\n', start);
    if (nl == std::string::npos) break;
    if (nl > start) lines.push_back(content.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

template <class Request>
absl::StatusOr<std::vector<Request>> ReadFileExporterLines(const std::string& path) {
  std::vector<Request> out;
  int line_no = 0;
  for (const std::string& line : ReadCompleteLines(path)) {
    ++line_no;
    Request req;
    if (absl::Status s = DecodeOtlpJson(line, &req); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " line ", line_no, ": ", s.message(), " in: ", line.substr(0, 300)));
    }
    out.push_back(std::move(req));
  }
  return out;
}

template absl::StatusOr<std::vector<TracesRequest>> ReadFileExporterLines(const std::string&);
template absl::StatusOr<std::vector<MetricsRequest>> ReadFileExporterLines(const std::string&);
template absl::StatusOr<std::vector<LogsRequest>> ReadFileExporterLines(const std::string&);

absl::StatusOr<std::vector<TracesRequest>> ReadTracesFile(const std::string& path) {
  return ReadFileExporterLines<TracesRequest>(path);
}
absl::StatusOr<std::vector<MetricsRequest>> ReadMetricsFile(const std::string& path) {
  return ReadFileExporterLines<MetricsRequest>(path);
}
absl::StatusOr<std::vector<LogsRequest>> ReadLogsFile(const std::string& path) {
  return ReadFileExporterLines<LogsRequest>(path);
}

long CountFileItems(Signal signal, const std::string& path) {
  auto count = [](const auto& requests) -> long {
    if (!requests.ok()) return -1;
    return static_cast<long>(TotalItems(*requests));
  };
  switch (signal) {
    case Signal::kTraces:
      return count(ReadTracesFile(path));
    case Signal::kMetrics:
      return count(ReadMetricsFile(path));
    case Signal::kLogs:
      return count(ReadLogsFile(path));
  }
  return -1;
}

std::vector<std::string> WaitForLines(const std::string& path, size_t min_lines,
                                      absl::Duration timeout, absl::Duration settle) {
  WaitUntil([&] { return ReadCompleteLines(path).size() >= min_lines; }, timeout);
  absl::SleepFor(settle);
  return ReadCompleteLines(path);
}

long WaitForItems(Signal signal, const std::string& path, long min_items, absl::Duration timeout) {
  long count = 0;
  WaitUntil(
      [&] {
        count = CountFileItems(signal, path);
        return count < 0 || count >= min_items;
      },
      timeout, absl::Milliseconds(50));
  return count;
}

std::string ResourceAttribute(const Resource& resource, std::string_view key) {
  for (const auto& kv : resource.attributes()) {
    if (kv.key() == key) return kv.value().string_value();
  }
  return "";
}

std::string CallTraceId(uint64_t n) {
  std::string id(16, '\0');
  id[0] = static_cast<char>(0xab);
  for (int i = 0; i < 8; ++i) id[8 + i] = static_cast<char>((n >> (8 * (7 - i))) & 0xff);
  return id;
}

TracesRequest MakeCallTrace(uint64_t n, int64_t start_ns, bool error) {
  using opentelemetry::proto::trace::v1::Span;
  TracesRequest req;
  auto span_id = [&](uint64_t k) {
    std::string s(8, '\0');
    uint64_t v = n * 10 + k;
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    s[7] = static_cast<char>(s[7] | 1);  // never all zero
    return s;
  };
  auto set = [](opentelemetry::proto::common::v1::KeyValue* kv, const std::string& k,
                const std::string& v) {
    kv->set_key(k);
    kv->mutable_value()->set_string_value(v);
  };
  auto add = [&](const std::string& service, const std::string& name, Span::SpanKind kind,
                 uint64_t span, uint64_t parent, int64_t start, int64_t dur) {
    auto* rs = req.add_resource_spans();
    set(rs->mutable_resource()->add_attributes(), "service.name", service);
    set(rs->mutable_resource()->add_attributes(), "k8s.pod.name", service + "-pod-1");
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("test-scope");
    Span* s = ss->add_spans();
    s->set_trace_id(CallTraceId(n));
    s->set_span_id(span_id(span));
    if (parent != 0) s->set_parent_span_id(span_id(parent));
    s->set_name(name);
    s->set_kind(kind);
    s->set_start_time_unix_nano(static_cast<uint64_t>(start));
    s->set_end_time_unix_nano(static_cast<uint64_t>(start + dur));
    set(s->add_attributes(), "http.route", "/users/{id}");
    auto* code = s->add_attributes();
    code->set_key("http.response.status_code");
    code->mutable_value()->set_int_value(error ? 500 : 200);
    set(s->add_attributes(), "user.id", absl::StrCat("user-", n % 7));
    if (error && span == 3) {
      s->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
    }
  };
  const int64_t grow = static_cast<int64_t>(n) * 1000;
  add("frontend", "GET /users/{id}", Span::SPAN_KIND_SERVER, 1, 0, start_ns, 50'000'000 + grow);
  add("frontend", "call backend", Span::SPAN_KIND_CLIENT, 2, 1, start_ns + 1'000'000, 40'000'000);
  add("backend", "SELECT users", Span::SPAN_KIND_SERVER, 3, 2, start_ns + 2'000'000,
      30'000'000 + grow);
  return req;
}

}  // namespace otlpd::testing
