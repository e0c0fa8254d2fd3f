// End to end through the real daemon: filter processors in the traces, metrics and logs
// pipelines in front of file exporters, fed by a real OTLP/gRPC client and OTLP/JSON over
// HTTP; what the exporters wrote, the acknowledgement of a request everything was dropped
// from, the self-metrics, and `otlpd validate` on conditions it refuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/otlp_json.h"
#include "processors/attributes/attributes_test_util.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"
#include "testing/prometheus.h"

namespace otlpd::attrtest {
namespace {

using otlpd::testing::DaemonProcess;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kConfig[] = R"yaml(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
processors:
  filter/traces:
    error_mode: ignore
    traces:
      span:
        - 'attributes["http.route"] == "/health"'
        - 'resource.attributes["service.name"] == "canary" and kind == SPAN_KIND_CLIENT'
      spanevent:
        - 'IsMatch(name, "^debug\\.")'
  filter/metrics:
    metrics:
      metric: ['IsMatch(name, "^internal\\.")']
      datapoint: ['attributes["state"] == "idle"']
  filter/logs:
    logs:
      log_record:
        - 'severity_number < SEVERITY_NUMBER_WARN'
exporters:
  file/traces:
    path: {{DIR}}/traces.jsonl
  file/metrics:
    path: {{DIR}}/metrics.jsonl
  file/logs:
    path: {{DIR}}/logs.jsonl
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [filter/traces]
      exporters: [file/traces]
    metrics:
      receivers: [otlp]
      processors: [filter/metrics]
      exporters: [file/metrics]
    logs:
      receivers: [otlp]
      processors: [filter/logs]
      exporters: [file/logs]
)yaml";

opentelemetry::proto::trace::v1::Span* AddSpan(TracesRequest& r, const std::string& service,
                                               const std::string& name, int kind,
                                               const std::string& route) {
  auto* rs = r.add_resource_spans();
  *rs->mutable_resource()->add_attributes() = Str("service.name", service);
  auto* s = rs->add_scope_spans()->add_spans();
  s->set_trace_id(std::string(16, '\x0a'));
  s->set_span_id(std::string(8, '\x0b'));
  s->set_name(name);
  s->set_kind(static_cast<opentelemetry::proto::trace::v1::Span::SpanKind>(kind));
  *s->add_attributes() = Str("http.route", route);
  return s;
}

TEST(FilterEndToEndTest, FilterProcessorsInTheDaemon) {
  auto vars = testing::PortVars();
  DaemonProcess daemon("filter-e2e");
  ASSERT_TRUE(daemon.StartWithConfig(kConfig, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(testing::PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(testing::PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();
  testing::OtlpGrpcClient client(testing::PortOf(vars, "GRPC_PORT"));

  // Everything in this one is dropped: acknowledged OK, nothing written.
  TracesRequest health;
  AddSpan(health, "api", "GET /health", 2, "/health");
  grpc::Status status = client.Export(health);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << daemon.Stderr();

  TracesRequest traces;
  AddSpan(traces, "api", "GET /health", 2, "/health");
  auto* pay = AddSpan(traces, "api", "POST /pay", 2, "/pay");
  pay->add_events()->set_name("debug.step");
  pay->add_events()->set_name("exception");
  AddSpan(traces, "canary", "SELECT", 3, "");
  AddSpan(traces, "canary", "GET /", 2, "/");
  status = client.Export(traces);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << daemon.Stderr();

  MetricsRequest metrics;
  auto* scope = metrics.add_resource_metrics()->add_scope_metrics();
  scope->add_metrics()->set_name("internal.queue");
  scope->mutable_metrics(0)->mutable_gauge()->add_data_points()->set_as_int(1);
  auto* cpu = scope->add_metrics();
  cpu->set_name("cpu");
  for (const char* state : {"idle", "user"}) {
    auto* p = cpu->mutable_sum()->add_data_points();
    p->set_as_double(1);
    *p->add_attributes() = Str("state", state);
  }
  status = client.Export(metrics);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << daemon.Stderr();

  LogsRequest logs;
  auto* sl = logs.add_resource_logs()->add_scope_logs();
  for (int severity : {9, 13, 5, 17}) {
    auto* l = sl->add_log_records();
    l->set_severity_number(static_cast<opentelemetry::proto::logs::v1::SeverityNumber>(severity));
    l->mutable_body()->set_string_value(absl::StrCat("severity ", severity));
  }
  testing::HttpResult r =
      testing::HttpPost(testing::LocalUrl(testing::PortOf(vars, "HTTP_PORT"), "/v1/logs"),
                        EncodeOtlpJson(logs), {"Content-Type: application/json"});
  ASSERT_EQ(r.status, 200) << r.error << r.body << "\n" << daemon.Stderr();

  for (Signal s : kAllSignals) {
    ASSERT_EQ(testing::WaitForLines(daemon.File(testing::SinkFileName(s)), 1).size(), 1u)
        << SignalName(s) << "\n"
        << daemon.Stderr();
  }
  auto written = testing::ReadTracesFile(daemon.File("traces.jsonl"));
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_EQ(written->size(), 1u);  // the all-health request wrote nothing
  const TracesRequest& out = (*written)[0];
  std::vector<std::string> names;
  for (const auto& rs : out.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) names.push_back(s.name());
    }
  }
  EXPECT_THAT(names, ElementsAre("POST /pay", "GET /"));
  ASSERT_EQ(out.resource_spans(0).scope_spans(0).spans(0).events_size(), 1);
  EXPECT_EQ(out.resource_spans(0).scope_spans(0).spans(0).events(0).name(), "exception");

  auto metrics_out = testing::ReadMetricsFile(daemon.File("metrics.jsonl"));
  ASSERT_TRUE(metrics_out.ok()) << metrics_out.status();
  const auto& ms = (*metrics_out)[0].resource_metrics(0).scope_metrics(0).metrics();
  ASSERT_EQ(ms.size(), 1);
  EXPECT_EQ(ms[0].name(), "cpu");
  ASSERT_EQ(ms[0].sum().data_points_size(), 1);
  EXPECT_EQ(Describe(ms[0].sum().data_points(0).attributes()), "state=Str:user");

  auto logs_out = testing::ReadLogsFile(daemon.File("logs.jsonl"));
  ASSERT_TRUE(logs_out.ok()) << logs_out.status();
  std::vector<std::string> bodies;
  for (const auto& l : (*logs_out)[0].resource_logs(0).scope_logs(0).log_records()) {
    bodies.push_back(l.body().string_value());
  }
  EXPECT_THAT(bodies, ElementsAre("severity 13", "severity 17"));

  const std::string scraped = testing::ScrapeMetrics(testing::PortOf(vars, "METRICS_PORT"));
  EXPECT_EQ(testing::SelfMetric(scraped, "otelcol_processor_filter_spans_filtered",
                                {{"filter", "filter/traces"}}),
            3.0)
      << scraped;
  EXPECT_EQ(testing::SelfMetric(scraped, "otelcol_processor_filter_datapoints_filtered",
                                {{"filter", "filter/metrics"}}),
            2.0);
  EXPECT_EQ(testing::SelfMetric(scraped, "otelcol_processor_filter_logs_filtered",
                                {{"filter", "filter/logs"}}),
            2.0);
  // Every request was accepted (the dropped ones too).
  EXPECT_EQ(testing::SelfMetric(scraped, "otelcol_receiver_accepted_spans"), 5.0);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

TEST(FilterEndToEndTest, ValidateReportsUnsupportedConditionsWithTheirPlace) {
  testing::CommandResult r =
      testing::RunOtlpd({"validate", "--config", "{{DIR}}/bad.yaml"}, {{"bad.yaml", R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  filter:
    traces:
      span:
        - 'name == "ok"'
        - 'replace_pattern(name, "a", "b")'
    logs:
      log_record:
        - 'severity_number < SEVERITY_NUMBER_WARNING'
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [filter]
      exporters: [nop]
)"}});
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:11:11: processors::filter::traces::span[1]: condition "
                               "\"replace_pattern(name, \"a\", \"b\")\" (span context): function "
                               "\"replace_pattern\" is not supported"));
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:14:11: processors::filter::logs::log_record[0]: "
                               "condition \"severity_number < SEVERITY_NUMBER_WARNING\" (log "
                               "context): unknown enum \"SEVERITY_NUMBER_WARNING\" (column 19)"));
}

}  // namespace
}  // namespace otlpd::attrtest
