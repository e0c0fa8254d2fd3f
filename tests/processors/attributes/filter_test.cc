// include/exclude of the attributes processor (otelcol's filterconfig MatchProperties) on
// spans, log records and metric data points: which items the actions reach.
#include <gtest/gtest.h>

#include "processors/attributes/attributes_test_util.h"

namespace otlpd::attrtest {
namespace {

using opentelemetry::proto::logs::v1::LogRecord;
using opentelemetry::proto::metrics::v1::Metric;
using opentelemetry::proto::resource::v1::Resource;
using opentelemetry::proto::trace::v1::Span;

constexpr char kTag[] = R"(
actions:
  - {key: tagged, value: true, action: insert}
)";

bool Tagged(const KeyValues& attrs) {
  for (const KeyValue& kv : attrs) {
    if (kv.key() == "tagged") return true;
  }
  return false;
}

std::string ServiceOf(const Resource& r) {
  for (const KeyValue& kv : r.attributes()) {
    if (kv.key() == "service.name") return kv.value().string_value();
  }
  return "nil";
}

// Three resources: svcA (host.type n1-standard-1, scope mongo-java-driver 3.8.0) with a
// SERVER "login" {env: dev, test_request: 123} and a CLIENT "query" {env: prod}; svcB
// (scope lib2, no version) with an INTERNAL "login" {env: 1} and a CONSUMER "other" {};
// no service.name (scope "") with an UNSPECIFIED "op" {redact_trace: false}.
TracesRequest Traces() {
  TracesRequest request;
  auto add_span = [](auto* ss, std::string name, Span::SpanKind kind, std::vector<KeyValue> attrs) {
    Span* span = ss->add_spans();
    span->set_trace_id(std::string(16, '\x01'));
    span->set_span_id(std::string(8, '\x02'));
    span->set_name(std::move(name));
    span->set_kind(kind);
    for (auto& kv : attrs) *span->add_attributes() = kv;
  };
  auto* a = request.add_resource_spans();
  *a->mutable_resource()->add_attributes() = Str("service.name", "svcA");
  *a->mutable_resource()->add_attributes() = Str("host.type", "n1-standard-1");
  auto* sa = a->add_scope_spans();
  sa->mutable_scope()->set_name("mongo-java-driver");
  sa->mutable_scope()->set_version("3.8.0");
  add_span(sa, "login", Span::SPAN_KIND_SERVER, {Str("env", "dev"), Int("test_request", 123)});
  add_span(sa, "query", Span::SPAN_KIND_CLIENT, {Str("env", "prod")});
  auto* b = request.add_resource_spans();
  *b->mutable_resource()->add_attributes() = Str("service.name", "svcB");
  auto* sb = b->add_scope_spans();
  sb->mutable_scope()->set_name("lib2");
  add_span(sb, "login", Span::SPAN_KIND_INTERNAL, {Int("env", 1)});
  add_span(sb, "other", Span::SPAN_KIND_CONSUMER, {});
  auto* c = request.add_resource_spans();
  add_span(c->add_scope_spans(), "op", Span::SPAN_KIND_UNSPECIFIED, {Bool("redact_trace", false)});
  return request;
}

// "service:span" of the spans the actions reached, in order.
std::string TaggedSpans(const std::string& match) {
  Harness h(Factory(), match + kTag, Signal::kTraces);
  if (h.processor == nullptr) return "(no processor)";
  auto in = FromRequest(Signal::kTraces, Traces());
  TelemetryPtr out = h.Run(in);
  ExpectValidWire(*out);
  std::vector<std::string> tagged;
  for (const auto& rs : out->traces().resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        if (Tagged(span.attributes())) {
          tagged.push_back(ServiceOf(rs.resource()) + ":" + span.name());
        }
      }
    }
  }
  if (tagged.empty()) {
    EXPECT_EQ(out.get(), in.get()) << "an untouched request is passed on as it is";
  }
  return absl::StrJoin(tagged, " ");
}

TEST(SpanFilterTest, NoFilterReachesEverySpan) {
  EXPECT_EQ(TaggedSpans(""), "svcA:login svcA:query svcB:login svcB:other nil:op");
}

TEST(SpanFilterTest, Services) {
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, services: [svcA]}"),
            "svcA:login svcA:query");
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, services: [svc]}"), "");
  // Regular expressions match anywhere in the string (Go's MatchString).
  EXPECT_EQ(TaggedSpans("include: {match_type: regexp, services: [vcB]}"), "svcB:login svcB:other");
  EXPECT_EQ(TaggedSpans("include: {match_type: regexp, services: [\"^svc(A|B)$\"]}"),
            "svcA:login svcA:query svcB:login svcB:other");
  // A resource without service.name is "<nil-service-name>", as in otelcol.
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, services: [<nil-service-name>]}"), "nil:op");
}

TEST(SpanFilterTest, SpanNames) {
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, span_names: [login, op]}"),
            "svcA:login svcB:login nil:op");
  EXPECT_EQ(TaggedSpans("include: {match_type: regexp, span_names: [\"^q|th\"]}"),
            "svcA:query svcB:other");
}

TEST(SpanFilterTest, SpanKinds) {
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, span_kinds: [SPAN_KIND_SERVER, "
                        "SPAN_KIND_CONSUMER]}"),
            "svcA:login svcB:other");
  EXPECT_EQ(TaggedSpans("include: {match_type: regexp, span_kinds: [CLIENT|INTERNAL]}"),
            "svcA:query svcB:login");
  EXPECT_EQ(TaggedSpans("include: {match_type: regexp, span_kinds: [UNSPECIFIED]}"), "nil:op");
}

TEST(SpanFilterTest, AttributesStrict) {
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, attributes: [{key: env}]}"),
            "svcA:login svcA:query svcB:login");
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, attributes: [{key: env, value: dev}]}"),
            "svcA:login");
  // Typed: the int 1 is not the string "1".
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, attributes: [{key: env, value: 1}]}"),
            "svcB:login");
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, attributes: [{key: env, value: \"1\"}]}"),
            "");
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, attributes: [{key: redact_trace, value: "
                        "false}]}"),
            "nil:op");
  // Every listed attribute must match.
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, attributes: [{key: env, value: dev}, "
                        "{key: test_request}]}"),
            "svcA:login");
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, attributes: [{key: env, value: prod}, "
                        "{key: test_request}]}"),
            "");
}

TEST(SpanFilterTest, AttributesRegexpMatchStringForms) {
  EXPECT_EQ(TaggedSpans("include: {match_type: regexp, attributes: [{key: env, value: \"^d\"}]}"),
            "svcA:login");
  // Ints and bools are matched in their string forms.
  EXPECT_EQ(TaggedSpans("include: {match_type: regexp, attributes: [{key: env, value: \"^1$\"}]}"),
            "svcB:login");
  EXPECT_EQ(TaggedSpans("include: {match_type: regexp, attributes: [{key: test_request, value: "
                        "\"12\"}]}"),
            "svcA:login");
  EXPECT_EQ(TaggedSpans("include: {match_type: regexp, attributes: [{key: redact_trace, value: "
                        "\"^false$\"}]}"),
            "nil:op");
}

TEST(SpanFilterTest, Resources) {
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, resources: [{key: host.type, value: "
                        "n1-standard-1}]}"),
            "svcA:login svcA:query");
  EXPECT_EQ(TaggedSpans("exclude: {match_type: strict, resources: [{key: service.name}]}"),
            "nil:op");
  EXPECT_EQ(TaggedSpans("include: {match_type: regexp, resources: [{key: service.name, value: "
                        "B$}]}"),
            "svcB:login svcB:other");
}

TEST(SpanFilterTest, Libraries) {
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, libraries: [{name: mongo-java-driver, "
                        "version: 3.8.0}]}"),
            "svcA:login svcA:query");
  // Without a version any version matches; an empty version only an empty one.
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, libraries: [{name: lib2}]}"),
            "svcB:login svcB:other");
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, libraries: [{name: lib2, version: \"\"}]}"),
            "svcB:login svcB:other");
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, libraries: [{name: mongo-java-driver, "
                        "version: \"\"}]}"),
            "");
  EXPECT_EQ(TaggedSpans("include: {match_type: regexp, libraries: [{name: mongo, version: "
                        "\"^3\\\\.\"}]}"),
            "svcA:login svcA:query");
}

TEST(SpanFilterTest, AllPropertiesMustMatch) {
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, services: [svcA, svcB], span_names: "
                        "[login]}"),
            "svcA:login svcB:login");
  EXPECT_EQ(TaggedSpans("include: {match_type: strict, services: [svcA], span_names: [login], "
                        "span_kinds: [SPAN_KIND_CLIENT]}"),
            "");
}

TEST(SpanFilterTest, ExcludeAndIncludeThenExclude) {
  EXPECT_EQ(TaggedSpans("exclude: {match_type: strict, services: [svcA]}"),
            "svcB:login svcB:other nil:op");
  EXPECT_EQ(TaggedSpans("exclude: {match_type: regexp, span_names: [\"^lo\"]}"),
            "svcA:query svcB:other nil:op");
  // otelcol's attributes/selectiveprocessing shape.
  EXPECT_EQ(TaggedSpans(R"(
include: {match_type: regexp, services: [svc]}
exclude: {match_type: strict, span_names: [login]}
)"),
            "svcA:query svcB:other");
  EXPECT_EQ(TaggedSpans(R"(
include: {match_type: strict, services: [svcA, svcB]}
exclude: {match_type: strict, attributes: [{key: env, value: 1}]}
)"),
            "svcA:login svcA:query svcB:other");
}

// Log records under one resource {service.name: svc, region: eu}: "AUTH failed" ERROR (17)
// {user: a}, "debug info" "debug" (5), an int body 5 with no severity, a map body {a: 1}
// "INFO" (9).
LogsRequest Logs() {
  LogsRequest request;
  auto* rl = request.add_resource_logs();
  *rl->mutable_resource()->add_attributes() = Str("service.name", "svc");
  *rl->mutable_resource()->add_attributes() = Str("region", "eu");
  auto* sl = rl->add_scope_logs();
  sl->mutable_scope()->set_name("logger");
  LogRecord* r1 = sl->add_log_records();
  r1->mutable_body()->set_string_value("AUTH failed");
  r1->set_severity_text("ERROR");
  r1->set_severity_number(opentelemetry::proto::logs::v1::SEVERITY_NUMBER_ERROR);
  *r1->add_attributes() = Str("user", "a");
  LogRecord* r2 = sl->add_log_records();
  r2->mutable_body()->set_string_value("debug info");
  r2->set_severity_text("debug");
  r2->set_severity_number(opentelemetry::proto::logs::v1::SEVERITY_NUMBER_DEBUG);
  LogRecord* r3 = sl->add_log_records();
  r3->mutable_body()->set_int_value(5);
  LogRecord* r4 = sl->add_log_records();
  *r4->mutable_body()->mutable_kvlist_value()->add_values() = Int("a", 1);
  r4->set_severity_text("INFO");
  r4->set_severity_number(opentelemetry::proto::logs::v1::SEVERITY_NUMBER_INFO);
  return request;
}

// Indexes (1-based) of the log records the actions reached.
std::string TaggedLogs(const std::string& match) {
  Harness h(Factory(), match + kTag, Signal::kLogs);
  if (h.processor == nullptr) return "(no processor)";
  auto in = FromRequest(Signal::kLogs, Logs());
  TelemetryPtr out = h.Run(in);
  ExpectValidWire(*out);
  std::vector<std::string> tagged;
  const auto& records = out->logs().resource_logs(0).scope_logs(0).log_records();
  for (int i = 0; i < records.size(); ++i) {
    if (Tagged(records[i].attributes())) tagged.push_back(absl::StrCat(i + 1));
  }
  return absl::StrJoin(tagged, " ");
}

TEST(LogFilterTest, NoFilterReachesEveryRecord) { EXPECT_EQ(TaggedLogs(""), "1 2 3 4"); }

TEST(LogFilterTest, LogBodies) {
  EXPECT_EQ(TaggedLogs("include: {match_type: strict, log_bodies: [AUTH failed]}"), "1");
  EXPECT_EQ(TaggedLogs("include: {match_type: regexp, log_bodies: [\"^AUTH\", info]}"), "1 2");
  // Bodies of other types are matched in their AsString form.
  EXPECT_EQ(TaggedLogs("include: {match_type: strict, log_bodies: [\"5\"]}"), "3");
  EXPECT_EQ(TaggedLogs("include: {match_type: strict, log_bodies: ['{\"a\":1}']}"), "4");
  EXPECT_EQ(TaggedLogs("exclude: {match_type: regexp, log_bodies: [a]}"), "2 3");
}

TEST(LogFilterTest, SeverityTextsAndNumber) {
  EXPECT_EQ(TaggedLogs("include: {match_type: regexp, log_severity_texts: [\"debug.*\"]}"), "2");
  EXPECT_EQ(TaggedLogs("include: {match_type: strict, log_severity_texts: [ERROR, INFO]}"), "1 4");
  EXPECT_EQ(TaggedLogs("include: {match_type: strict, log_severity_number: {min: 9}}"), "1 4");
  EXPECT_EQ(TaggedLogs("include: {match_type: strict, log_severity_number: {min: 9, "
                       "match_undefined: true}}"),
            "1 3 4");
  EXPECT_EQ(TaggedLogs("include: {match_type: strict, log_severity_number: {min: 18}}"), "");
}

TEST(LogFilterTest, AttributesAndResources) {
  EXPECT_EQ(TaggedLogs("include: {match_type: strict, attributes: [{key: user, value: a}]}"), "1");
  EXPECT_EQ(TaggedLogs("include: {match_type: strict, resources: [{key: region, value: eu}]}"),
            "1 2 3 4");
  EXPECT_EQ(TaggedLogs("include: {match_type: strict, resources: [{key: region, value: us}]}"), "");
  EXPECT_EQ(TaggedLogs("include: {match_type: regexp, log_bodies: [a], libraries: [{name: "
                       "^log}]}"),
            "1 4");
}

// Two resources (host.name h1, h2), each with one metric of each type: gauge "cpu" (2
// points), sum "requests", histogram "latency", exponential histogram "sizes", summary "gc"
// (1 point each, with an attribute "p").
MetricsRequest Metrics() {
  MetricsRequest request;
  for (const char* host : {"h1", "h2"}) {
    auto* rm = request.add_resource_metrics();
    *rm->mutable_resource()->add_attributes() = Str("host.name", host);
    auto* sm = rm->add_scope_metrics();
    Metric* cpu = sm->add_metrics();
    cpu->set_name("cpu");
    for (int i = 0; i < 2; ++i) {
      auto* p = cpu->mutable_gauge()->add_data_points();
      p->set_as_double(0.5);
      *p->add_attributes() = Int("p", i);
    }
    Metric* requests = sm->add_metrics();
    requests->set_name("requests");
    *requests->mutable_sum()->add_data_points()->add_attributes() = Str("p", "x");
    Metric* latency = sm->add_metrics();
    latency->set_name("latency");
    *latency->mutable_histogram()->add_data_points()->add_attributes() = Str("p", "x");
    Metric* sizes = sm->add_metrics();
    sizes->set_name("sizes");
    *sizes->mutable_exponential_histogram()->add_data_points()->add_attributes() = Str("p", "x");
    Metric* gc = sm->add_metrics();
    gc->set_name("gc");
    *gc->mutable_summary()->add_data_points()->add_attributes() = Str("p", "x");
  }
  return request;
}

// "host/metric:tagged points" for the metrics the actions reached.
std::string TaggedMetrics(const std::string& match) {
  Harness h(Factory(), match + kTag, Signal::kMetrics);
  if (h.processor == nullptr) return "(no processor)";
  auto in = FromRequest(Signal::kMetrics, Metrics());
  TelemetryPtr out = h.Run(in);
  ExpectValidWire(*out);
  std::vector<std::string> tagged;
  for (const auto& rm : out->metrics().resource_metrics()) {
    const std::string host = rm.resource().attributes(0).value().string_value();
    for (const Metric& m : rm.scope_metrics(0).metrics()) {
      int n = 0;
      auto count = [&](const auto& points) {
        for (const auto& p : points) {
          n += Tagged(p.attributes()) ? 1 : 0;
          // The point's own attribute stays, first.
          EXPECT_EQ(p.attributes(0).key(), "p");
        }
      };
      count(m.gauge().data_points());
      count(m.sum().data_points());
      count(m.histogram().data_points());
      count(m.exponential_histogram().data_points());
      count(m.summary().data_points());
      if (n > 0) tagged.push_back(absl::StrCat(host, "/", m.name(), ":", n));
    }
  }
  return absl::StrJoin(tagged, " ");
}

TEST(MetricFilterTest, NoFilterReachesEveryDataPointOfEveryType) {
  EXPECT_EQ(TaggedMetrics(""),
            "h1/cpu:2 h1/requests:1 h1/latency:1 h1/sizes:1 h1/gc:1 "
            "h2/cpu:2 h2/requests:1 h2/latency:1 h2/sizes:1 h2/gc:1");
}

TEST(MetricFilterTest, MetricNames) {
  EXPECT_EQ(TaggedMetrics("include: {match_type: strict, metric_names: [cpu, gc]}"),
            "h1/cpu:2 h1/gc:1 h2/cpu:2 h2/gc:1");
  EXPECT_EQ(TaggedMetrics("include: {match_type: regexp, metric_names: [\"^(req|lat)\"]}"),
            "h1/requests:1 h1/latency:1 h2/requests:1 h2/latency:1");
  EXPECT_EQ(TaggedMetrics("exclude: {match_type: regexp, metric_names: [s]}"),
            "h1/cpu:2 h1/latency:1 h1/gc:1 h2/cpu:2 h2/latency:1 h2/gc:1");
}

TEST(MetricFilterTest, Resources) {
  EXPECT_EQ(TaggedMetrics("include: {match_type: strict, resources: [{key: host.name, value: "
                          "h2}], metric_names: [cpu, sizes]}"),
            "h2/cpu:2 h2/sizes:1");
  EXPECT_EQ(TaggedMetrics("exclude: {match_type: strict, resources: [{key: host.name, value: "
                          "h2}]}"),
            "h1/cpu:2 h1/requests:1 h1/latency:1 h1/sizes:1 h1/gc:1");
}

}  // namespace
}  // namespace otlpd::attrtest
