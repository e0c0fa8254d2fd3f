// End to end through the real daemon: a `resource` processor and two `attributes`
// processors in front of file exporters, fed by real OTLP clients (gRPC with client
// metadata, and OTLP/JSON over HTTP), checking what the exporters wrote; and `otlpd validate`
// on configurations these processors refuse.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/otlp_json.h"
#include "processors/attributes/attributes_test_util.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"

namespace otlpd::attrtest {
namespace {

using otlpd::testing::DaemonProcess;
using ::testing::HasSubstr;

constexpr char kConfig[] = R"yaml(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
        include_metadata: true
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
processors:
  resource:
    attributes:
      - {key: collector.name, value: otlpd, action: insert}
      - {key: secret.token, action: delete}
  attributes/spans:
    include:
      match_type: regexp
      services: ["^check"]
    actions:
      - {key: user.email, action: hash}
      - {key: http.url, pattern: "^(?P<url_scheme>[a-z]+)://(?P<url_host>[^/]+)", action: extract}
      - {key: http.status_code, action: convert, converted_type: int}
      - {key: tenant, from_context: metadata.x-tenant, action: insert}
      - {key: password, action: delete}
  attributes/all:
    actions:
      - {key: env, value: prod, action: upsert}
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
      processors: [resource, attributes/spans, attributes/all]
      exporters: [file/traces]
    metrics:
      receivers: [otlp]
      processors: [resource, attributes/all]
      exporters: [file/metrics]
    logs:
      receivers: [otlp]
      processors: [resource, attributes/all]
      exporters: [file/logs]
)yaml";

TEST(AttributesEndToEndTest, ResourceAndAttributesProcessorsInTheDaemon) {
  auto vars = testing::PortVars();
  DaemonProcess daemon("attributes-e2e");
  ASSERT_TRUE(daemon.StartWithConfig(kConfig, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(testing::PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(testing::PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();

  // Traces over gRPC, with the client metadata from_context reads.
  TracesRequest traces;
  auto* checkout = traces.add_resource_spans();
  *checkout->mutable_resource()->add_attributes() = Str("service.name", "checkout");
  *checkout->mutable_resource()->add_attributes() = Str("secret.token", "s3cr3t");
  auto* pay = checkout->add_scope_spans()->add_spans();
  pay->set_trace_id(std::string(16, '\x0a'));
  pay->set_span_id(std::string(8, '\x0b'));
  pay->set_name("POST /pay");
  for (const KeyValue& kv :
       {Str("user.email", "user@example.com"), Str("http.url", "https://shop.example.com/pay?x=1"),
        Str("http.status_code", "502"), Str("password", "hunter2"), Int("keep", 1)}) {
    *pay->add_attributes() = kv;
  }
  auto* cart = traces.add_resource_spans();
  *cart->mutable_resource()->add_attributes() = Str("service.name", "cart");
  auto* get = cart->add_scope_spans()->add_spans();
  get->set_trace_id(std::string(16, '\x0c'));
  get->set_span_id(std::string(8, '\x0d'));
  get->set_name("GET /cart");
  *get->add_attributes() = Str("user.email", "a@b.c");
  *get->add_attributes() = Str("password", "p");
  testing::OtlpGrpcClient client(testing::PortOf(vars, "GRPC_PORT"));
  testing::GrpcCallOptions options;
  options.metadata = {{"x-tenant", "acme"}};
  grpc::Status status = client.Export(traces, nullptr, options);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << daemon.Stderr();

  // Metrics over gRPC, logs as OTLP/JSON over HTTP.
  MetricsRequest metrics;
  auto* rm = metrics.add_resource_metrics();
  *rm->mutable_resource()->add_attributes() = Str("service.name", "m");
  *rm->mutable_resource()->add_attributes() = Str("secret.token", "x");
  auto* cpu = rm->add_scope_metrics()->add_metrics();
  cpu->set_name("cpu");
  auto* point = cpu->mutable_gauge()->add_data_points();
  point->set_as_double(0.25);
  *point->add_attributes() = Str("host", "h1");
  status = client.Export(metrics);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << daemon.Stderr();

  LogsRequest logs;
  auto* rl = logs.add_resource_logs();
  *rl->mutable_resource()->add_attributes() = Str("service.name", "l");
  auto* record = rl->add_scope_logs()->add_log_records();
  record->mutable_body()->set_string_value("hello");
  *record->add_attributes() = Int("a", 1);
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
  const TracesRequest& out = (*written)[0];
  ASSERT_EQ(out.resource_spans_size(), 2);
  // resource: collector.name inserted, secret.token deleted (the last attribute takes its place).
  EXPECT_EQ(Describe(out.resource_spans(0).resource().attributes()),
            "service.name=Str:checkout collector.name=Str:otlpd");
  EXPECT_EQ(Describe(out.resource_spans(1).resource().attributes()),
            "service.name=Str:cart collector.name=Str:otlpd");
  // checkout matches attributes/spans: hashed, extracted, converted, tenant from the client
  // metadata, password deleted; every span then gets env.
  EXPECT_EQ(Describe(out.resource_spans(0).scope_spans(0).spans(0).attributes()),
            "user.email=Str:b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514 "
            "http.url=Str:https://shop.example.com/pay?x=1 http.status_code=Int:502 "
            "tenant=Str:acme keep=Int:1 url_scheme=Str:https url_host=Str:shop.example.com "
            "env=Str:prod");
  EXPECT_EQ(Describe(out.resource_spans(1).scope_spans(0).spans(0).attributes()),
            "user.email=Str:a@b.c password=Str:p env=Str:prod");
  // The rest of each span as it was sent.
  for (int i = 0; i < 2; ++i) {
    auto sent = traces.resource_spans(i).scope_spans(0).spans(0);
    auto got = out.resource_spans(i).scope_spans(0).spans(0);
    sent.clear_attributes();
    got.clear_attributes();
    EXPECT_EQ(testing::ProtoDiff(sent, got), "");
  }

  auto metrics_out = testing::ReadMetricsFile(daemon.File("metrics.jsonl"));
  ASSERT_TRUE(metrics_out.ok()) << metrics_out.status();
  const auto& m = (*metrics_out)[0].resource_metrics(0);
  EXPECT_EQ(Describe(m.resource().attributes()), "service.name=Str:m collector.name=Str:otlpd");
  EXPECT_EQ(Describe(m.scope_metrics(0).metrics(0).gauge().data_points(0).attributes()),
            "host=Str:h1 env=Str:prod");
  EXPECT_EQ(m.scope_metrics(0).metrics(0).gauge().data_points(0).as_double(), 0.25);

  auto logs_out = testing::ReadLogsFile(daemon.File("logs.jsonl"));
  ASSERT_TRUE(logs_out.ok()) << logs_out.status();
  const auto& l = (*logs_out)[0].resource_logs(0);
  EXPECT_EQ(Describe(l.resource().attributes()), "service.name=Str:l collector.name=Str:otlpd");
  EXPECT_EQ(Describe(l.scope_logs(0).log_records(0).attributes()), "a=Int:1 env=Str:prod");
  EXPECT_EQ(l.scope_logs(0).log_records(0).body().string_value(), "hello");

  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

TEST(AttributesEndToEndTest, ValidateReportsActionErrorsWithTheirPlace) {
  testing::CommandResult r =
      testing::RunOtlpd({"validate", "--config", "{{DIR}}/bad.yaml"}, {{"bad.yaml", R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  attributes:
    actions:
      - key: a
        action: rename
      - {key: b, pattern: "(", action: delete}
  resource:
    attributes: []
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [attributes, resource]
      exporters: [nop]
)"}});
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:10:17: processors::attributes::actions[0]::action: "
                               "unsupported action \"rename\""));
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:11:27: processors::attributes::actions[1]::pattern: "
                               "field \"pattern\" has invalid pattern: \"(\""));
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:13:17: processors::resource::attributes: missing "
                               "required field \"attributes\""));
}

}  // namespace
}  // namespace otlpd::attrtest
