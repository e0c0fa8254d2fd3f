// The filter processor on real requests (protobuf bytes as the receiver hands them on):
// what each signal's conditions drop, that emptied scopes, resources and metrics go too,
// that a request nothing matched is passed on as it came and one everything matched is
// acknowledged without going further, the self-metric counts, error_mode, and the config
// errors with their place.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "absl/strings/cord.h"
#include "core/otlp_wire.h"
#include "processors/attributes/attributes_test_util.h"
#include "processors/filter/factory.h"
#include "testing/otlp_data.h"
#include "testing/realistic_traces.h"

namespace otlpd::attrtest {
namespace {

using ::testing::HasSubstr;
using Span = opentelemetry::proto::trace::v1::Span;
using LogRecord = opentelemetry::proto::logs::v1::LogRecord;

struct Filter {
  explicit Filter(const std::string& yaml, Signal signal) : sink(std::make_shared<Sink>()) {
    Diagnostics diag;
    config = ParseWith(*NewFilterProcessorFactory(), yaml, &diag, "processors::filter");
    EXPECT_TRUE(diag.ok()) << diag.Format();
    auto created = NewFilterProcessorFactory()->Create(CreateSettings{{"filter", "test"}, &host},
                                                       *config, signal, sink);
    EXPECT_TRUE(created.ok()) << created.status();
    if (created.ok()) processor = std::move(*created);
  }

  // Passes `data` through: what came out (null if nothing), and the completion status.
  TelemetryPtr Run(TelemetryPtr data, absl::Status* status_out = nullptr) {
    const size_t before = sink->received().size();
    absl::Status status = absl::InternalError("not completed");
    processor->Consume(std::move(data), [&](absl::Status s) { status = s; });
    if (status_out != nullptr) {
      *status_out = status;
    } else {
      EXPECT_TRUE(status.ok()) << status;
    }
    if (sink->received().size() == before) return nullptr;
    ExpectValidWire(*sink->last());
    return sink->last();
  }

  uint64_t Filtered(const std::string& name) {
    return host.registry.GetCounter(name, {{"filter", "filter/test"}})->value();
  }

  testing::TestHost host;
  std::shared_ptr<Sink> sink;
  std::unique_ptr<ComponentConfig> config;
  std::unique_ptr<Processor> processor;
};

Span* AddSpan(opentelemetry::proto::trace::v1::ScopeSpans* scope, std::string name, int kind,
              std::vector<KeyValue> attrs) {
  Span* s = scope->add_spans();
  s->set_trace_id(std::string(16, '\x01'));
  s->set_span_id(std::string(8, '\x02'));
  s->set_name(std::move(name));
  s->set_kind(static_cast<Span::SpanKind>(kind));
  s->set_start_time_unix_nano(1'000'000'000);
  s->set_end_time_unix_nano(1'010'000'000);
  for (auto& kv : attrs) *s->add_attributes() = kv;
  return s;
}

std::vector<std::string> SpanNames(const TracesRequest& r) {
  std::vector<std::string> out;
  for (const auto& rs : r.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) out.push_back(s.name());
    }
  }
  return out;
}

// Two services; checkout has a scope with a server span, a client span and a slow span.
TracesRequest SampleTraces() {
  TracesRequest r;
  auto* checkout = r.add_resource_spans();
  *checkout->mutable_resource()->add_attributes() = Str("service.name", "checkout");
  auto* scope = checkout->add_scope_spans();
  scope->mutable_scope()->set_name("http");
  AddSpan(scope, "GET /health", 2, {Str("http.route", "/health")});
  AddSpan(scope, "SELECT", 3, {Str("db.system", "postgres"), Int("rows", 10)});
  Span* slow = AddSpan(scope, "POST /pay", 2, {Str("http.route", "/pay")});
  slow->set_end_time_unix_nano(3'000'000'000);
  slow->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  auto* ev = slow->add_events();
  ev->set_name("exception");
  *ev->add_attributes() = Str("exception.type", "Timeout");
  auto* ev2 = slow->add_events();
  ev2->set_name("retry");
  auto* cart = r.add_resource_spans();
  *cart->mutable_resource()->add_attributes() = Str("service.name", "cart");
  AddSpan(cart->add_scope_spans(), "GET /cart", 2, {Str("http.route", "/cart")});
  return r;
}

TEST(FilterProcessorTest, DropsSpansAnyConditionMatches) {
  Filter f(R"yaml(
traces:
  span:
    - 'attributes["http.route"] == "/health"'
    - 'kind == SPAN_KIND_CLIENT and resource.attributes["service.name"] == "checkout"'
)yaml",
           Signal::kTraces);
  auto out = f.Run(FromRequest(Signal::kTraces, SampleTraces()));
  ASSERT_NE(out, nullptr);
  EXPECT_THAT(SpanNames(out->traces()), ::testing::ElementsAre("POST /pay", "GET /cart"));
  EXPECT_EQ(out->ItemCount(), 2u);
  EXPECT_EQ(f.Filtered("otelcol_processor_filter_spans_filtered"), 2u);
  // What is left is as it was sent.
  const TracesRequest sent = SampleTraces();
  EXPECT_EQ(testing::ProtoDiff(sent.resource_spans(0).scope_spans(0).spans(2),
                               out->traces().resource_spans(0).scope_spans(0).spans(0)),
            "");
  EXPECT_EQ(out->traces().resource_spans(0).scope_spans(0).scope().name(), "http");
}

TEST(FilterProcessorTest, DurationStatusAndNameConditions) {
  Filter f(R"yaml(
error_mode: ignore
traces:
  span:
    - 'end_time_unix_nano - start_time_unix_nano > 1000000000 and status.code == STATUS_CODE_ERROR'
    - 'IsMatch(name, "^GET /c")'
)yaml",
           Signal::kTraces);
  auto out = f.Run(FromRequest(Signal::kTraces, SampleTraces()));
  ASSERT_NE(out, nullptr);
  EXPECT_THAT(SpanNames(out->traces()), ::testing::ElementsAre("GET /health", "SELECT"));
  // cart's only span went, and with it its scope and resource.
  EXPECT_EQ(out->traces().resource_spans_size(), 1);
}

// Span conditions answered from the receiver's span index (names, kinds, times, status codes,
// attributes behind the index's key filter) drop exactly what they drop when the spans are
// read, on realistic and standard requests; another request's index is not followed.
TEST(FilterProcessorTest, TheSpanIndexGivesWhatReadingTheSpansGives) {
  const char* const kConditionSets[] = {
      R"yaml(
traces:
  span:
    - 'IsMatch(name, "^(GET|SELECT)")'
    - 'kind == SPAN_KIND_CLIENT and status.code == STATUS_CODE_ERROR'
)yaml",
      R"yaml(
traces:
  span:
    - 'end_time_unix_nano - start_time_unix_nano < 2000000'
    - 'name == "compute_quote"'
)yaml",
      R"yaml(
traces:
  span:
    - 'attributes["sampling.priority"] == 1'
    - 'attributes["http.route"] == "/ads" or attributes["no.such.key"] == "x"'
    - 'status.code == STATUS_CODE_ERROR and status.message != "kept"'
)yaml",
  };
  for (const char* yaml : kConditionSets) {
    Filter walked(yaml, Signal::kTraces);
    Filter indexed(yaml, Signal::kTraces);
    std::mt19937_64 rng(7);
    const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
    size_t in = 0;
    std::string previous;
    for (int i = 0; i < 20; ++i) {
      TracesRequest request = bench::MakeVariedTraces(rng, i, 60, start);
      bench::AddSamplingFields(&request);
      const std::string bytes = request.SerializeAsString();
      auto index = std::make_shared<SpanIndex>();
      auto scan = ScanOtlpRequest(Signal::kTraces, bytes, index.get());
      ASSERT_TRUE(scan.ok());
      in += scan->items;
      auto run = [&](Filter& f, std::shared_ptr<const SpanIndex> with) {
        auto data = Telemetry::FromWire(Signal::kTraces, absl::Cord(bytes), scan->items);
        data->set_span_index(std::move(with));
        TelemetryPtr out = f.Run(std::move(data));
        return out == nullptr ? std::string("(nothing)") : std::string(out->wire());
      };
      const std::string want = run(walked, nullptr);
      EXPECT_EQ(run(indexed, index), want) << yaml << "request " << i;
      if (!previous.empty()) {
        auto other = std::make_shared<SpanIndex>();
        ASSERT_TRUE(ScanOtlpRequest(Signal::kTraces, previous, other.get()).ok());
        EXPECT_EQ(run(indexed, other), want) << yaml << "request " << i << ", another's index";
      }
      previous = bytes;
    }
    // The conditions drop some spans and keep others, or the comparison proves little.
    const uint64_t dropped = walked.Filtered("otelcol_processor_filter_spans_filtered");
    EXPECT_GT(dropped, 0u) << yaml;
    EXPECT_LT(dropped, in) << yaml;
  }
}

TEST(FilterProcessorTest, NothingMatchedPassesTheRequestOnAsItCame) {
  Filter f(R"yaml(
traces:
  span: ['name == "nope"']
  spanevent: ['name == "nope"']
)yaml",
           Signal::kTraces);
  auto in = FromRequest(Signal::kTraces, SampleTraces());
  auto out = f.Run(in);
  EXPECT_EQ(out.get(), in.get());
  EXPECT_EQ(f.Filtered("otelcol_processor_filter_spans_filtered"), 0u);
}

TEST(FilterProcessorTest, EverythingDroppedIsAcknowledgedWithoutGoingOn) {
  Filter f("traces: {span: ['true']}", Signal::kTraces);
  absl::Status status;
  auto out = f.Run(FromRequest(Signal::kTraces, SampleTraces()), &status);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(out, nullptr);
  EXPECT_TRUE(f.sink->received().empty());
  EXPECT_EQ(f.Filtered("otelcol_processor_filter_spans_filtered"), 4u);
}

TEST(FilterProcessorTest, DropsSpanEventsOfKeptSpans) {
  Filter f(R"yaml(
traces:
  span: ['name == "GET /health"']
  spanevent: ['attributes["exception.type"] == "Timeout"']
)yaml",
           Signal::kTraces);
  auto out = f.Run(FromRequest(Signal::kTraces, SampleTraces()));
  ASSERT_NE(out, nullptr);
  const auto& spans = out->traces().resource_spans(0).scope_spans(0).spans();
  ASSERT_EQ(spans.size(), 2);
  ASSERT_EQ(spans[1].name(), "POST /pay");
  ASSERT_EQ(spans[1].events_size(), 1);
  EXPECT_EQ(spans[1].events(0).name(), "retry");
  EXPECT_EQ(out->ItemCount(), 3u);  // events are not items
  EXPECT_EQ(f.Filtered("otelcol_processor_filter_spans_filtered"), 1u);
}

TEST(FilterProcessorTest, DropsLogRecordsBySeverityBodyAndAttributes) {
  LogsRequest r;
  auto* rl = r.add_resource_logs();
  *rl->mutable_resource()->add_attributes() = Str("service.name", "api");
  auto* scope = rl->add_scope_logs();
  auto add = [&](int severity, std::string body, std::vector<KeyValue> attrs) {
    LogRecord* l = scope->add_log_records();
    l->set_severity_number(static_cast<opentelemetry::proto::logs::v1::SeverityNumber>(severity));
    l->mutable_body()->set_string_value(std::move(body));
    for (auto& kv : attrs) *l->add_attributes() = kv;
  };
  add(5, "debug detail", {});
  add(9, "user logged in", {});
  add(13, "disk almost full", {Str("component", "disk")});
  add(17, "healthcheck failed", {});
  add(17, "payment failed", {Int("code", 503)});
  Filter f(R"yaml(
logs:
  log_record:
    - 'severity_number < SEVERITY_NUMBER_WARN and not IsMatch(body, "logged")'
    - 'IsMatch(body, "^healthcheck")'
    - 'attributes["component"] == "disk"'
)yaml",
           Signal::kLogs);
  auto out = f.Run(FromRequest(Signal::kLogs, r));
  ASSERT_NE(out, nullptr);
  std::vector<std::string> bodies;
  for (const auto& l : out->logs().resource_logs(0).scope_logs(0).log_records()) {
    bodies.push_back(l.body().string_value());
  }
  EXPECT_THAT(bodies, ::testing::ElementsAre("user logged in", "payment failed"));
  EXPECT_EQ(out->ItemCount(), 2u);
  EXPECT_EQ(f.Filtered("otelcol_processor_filter_logs_filtered"), 3u);
}

MetricsRequest SampleMetrics() {
  MetricsRequest r;
  auto* scope = r.add_resource_metrics()->add_scope_metrics();
  auto* cpu = scope->add_metrics();
  cpu->set_name("system.cpu.time");
  for (const char* state : {"idle", "user", "system"}) {
    auto* p = cpu->mutable_sum()->add_data_points();
    p->set_as_double(1);
    *p->add_attributes() = Str("state", state);
  }
  auto* mem = scope->add_metrics();
  mem->set_name("system.memory.usage");
  auto* p = mem->mutable_gauge()->add_data_points();
  p->set_as_int(5);
  *p->add_attributes() = Str("state", "idle");
  auto* lat = scope->add_metrics();
  lat->set_name("http.server.duration");
  auto* h = lat->mutable_histogram()->add_data_points();
  h->set_count(7);
  *h->add_attributes() = Str("route", "/x");
  return r;
}

std::vector<std::string> MetricNames(const MetricsRequest& r) {
  std::vector<std::string> out;
  for (const auto& rm : r.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) {
      for (const auto& m : sm.metrics()) out.push_back(m.name());
    }
  }
  return out;
}

TEST(FilterProcessorTest, DropsMetricsAndDataPoints) {
  Filter f(R"yaml(
metrics:
  metric: ['type == METRIC_DATA_TYPE_HISTOGRAM']
  datapoint:
    - 'attributes["state"] == "idle"'
)yaml",
           Signal::kMetrics);
  auto out = f.Run(FromRequest(Signal::kMetrics, SampleMetrics()));
  ASSERT_NE(out, nullptr);
  // The histogram went whole; memory lost its only point and went too; cpu kept two points.
  EXPECT_THAT(MetricNames(out->metrics()), ::testing::ElementsAre("system.cpu.time"));
  const auto& points = out->metrics().resource_metrics(0).scope_metrics(0).metrics(0).sum();
  ASSERT_EQ(points.data_points_size(), 2);
  EXPECT_EQ(Describe(points.data_points(0).attributes()), "state=Str:user");
  EXPECT_EQ(Describe(points.data_points(1).attributes()), "state=Str:system");
  EXPECT_EQ(out->ItemCount(), 2u);
  EXPECT_EQ(f.Filtered("otelcol_processor_filter_datapoints_filtered"), 3u);
}

TEST(FilterProcessorTest, DataPointConditionsSeeTheirMetric) {
  Filter f(R"yaml(
metrics:
  datapoint:
    - 'metric.name == "system.cpu.time" and attributes["state"] != "user"'
    - 'metric.type == METRIC_DATA_TYPE_HISTOGRAM and count > 5'
)yaml",
           Signal::kMetrics);
  auto out = f.Run(FromRequest(Signal::kMetrics, SampleMetrics()));
  ASSERT_NE(out, nullptr);
  EXPECT_THAT(MetricNames(out->metrics()),
              ::testing::ElementsAre("system.cpu.time", "system.memory.usage"));
  EXPECT_EQ(out->ItemCount(), 2u);
}

TEST(FilterProcessorTest, LegacySpanIncludeExclude) {
  Filter f(R"yaml(
spans:
  include:
    match_type: strict
    services: [checkout]
  exclude:
    match_type: regexp
    span_names: ["^GET "]
)yaml",
           Signal::kTraces);
  auto out = f.Run(FromRequest(Signal::kTraces, SampleTraces()));
  ASSERT_NE(out, nullptr);
  EXPECT_THAT(SpanNames(out->traces()), ::testing::ElementsAre("SELECT", "POST /pay"));
}

TEST(FilterProcessorTest, ErrorModePropagateFailsTheRequest) {
  const char* condition = "traces: {span: ['attributes[\"http.route\"] + 1 > 0']}";
  Filter propagate(condition, Signal::kTraces);
  absl::Status status;
  EXPECT_EQ(propagate.Run(FromRequest(Signal::kTraces, SampleTraces()), &status), nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("failed to evaluate"));

  Filter ignore(absl::StrCat("error_mode: ignore\n", condition), Signal::kTraces);
  auto in = FromRequest(Signal::kTraces, SampleTraces());
  EXPECT_EQ(ignore.Run(in).get(), in.get());
  Filter silent(absl::StrCat("error_mode: silent\n", condition), Signal::kTraces);
  EXPECT_EQ(silent.Run(in).get(), in.get());
}

TEST(FilterProcessorTest, OtherSignalsConditionsDoNotApply) {
  Filter f("logs: {log_record: ['true']}", Signal::kTraces);
  auto in = FromRequest(Signal::kTraces, SampleTraces());
  EXPECT_EQ(f.Run(in).get(), in.get());
}

TEST(FilterProcessorTest, ConfigErrorsCarryKeyPathAndLine) {
  Diagnostics diag;
  ParseWith(*NewFilterProcessorFactory(), R"yaml(error_mode: loud
traces:
  span:
    - 'name == "ok"'
    - 'trace_id.string == "abc"'
  spanevent:
    - 'IsMatch(name, "(")'
metrics:
  include:
    match_type: strict
  datapoint: 'not a list'
logs:
  log_record:
    - 'kind == SPAN_KIND_SERVER'
    - {not: a string}
  unknown_key: 1
)yaml",
            &diag, "processors::filter");
  const std::string text = diag.Format();
  EXPECT_THAT(text, HasSubstr("1:13: processors::filter::error_mode:"));
  EXPECT_THAT(text,
              HasSubstr("5:7: processors::filter::traces::span[1]: condition "
                        "\"trace_id.string == \"abc\"\" (span context): path \"trace_id.string\" "
                        "is not supported in the span context (column 1)"));
  EXPECT_THAT(text, HasSubstr("7:7: processors::filter::traces::spanevent[0]: condition "
                              "\"IsMatch(name, \"(\")\" (spanevent context): invalid regular "
                              "expression"));
  EXPECT_THAT(text, HasSubstr("9:3: processors::filter::metrics::include: the legacy "
                              "include/exclude settings are not supported"));
  EXPECT_THAT(text, HasSubstr("11:14: processors::filter::metrics::datapoint: expected a list "
                              "of OTTL conditions"));
  EXPECT_THAT(text, HasSubstr("14:7: processors::filter::logs::log_record[0]: condition "
                              "\"kind == SPAN_KIND_SERVER\" (log context): path \"kind\" is not "
                              "supported in the log context"));
  EXPECT_THAT(text, HasSubstr("15:7: processors::filter::logs::log_record[1]: expected an OTTL "
                              "condition"));
  EXPECT_THAT(text, HasSubstr("processors::filter::logs::unknown_key"));
  EXPECT_EQ(diag.errors().size(), 8u) << text;
}

TEST(FilterProcessorTest, LegacyAndOttlTogetherIsAnError) {
  Diagnostics diag;
  ParseWith(*NewFilterProcessorFactory(), R"yaml(traces:
  span: ['true']
spans:
  exclude: {match_type: strict, services: [a]}
)yaml",
            &diag, "processors::filter");
  EXPECT_THAT(diag.Format(), HasSubstr("3:1: processors::filter::spans: cannot use OTTL"));
}

}  // namespace
}  // namespace otlpd::attrtest
