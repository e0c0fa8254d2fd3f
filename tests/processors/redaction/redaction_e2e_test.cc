// End to end through the real daemon: redaction processors in the traces and logs pipelines
// in front of file exporters, fed by a real OTLP/gRPC client and OTLP/JSON over HTTP; what
// the exporters wrote (nothing sensitive), and `otlpd validate` on settings it refuses.
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
using ::testing::Not;

constexpr char kConfig[] = R"yaml(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
processors:
  redaction/traces:
    allowed_keys: [service.name, http.route, customer.email, payment.card, note]
    blocked_values: ["IBAN[A-Z0-9]{10,}"]
    summary: debug
  redaction/logs:
    allow_all_keys: true
    hash_function: sha1
exporters:
  file/traces:
    path: {{DIR}}/traces.jsonl
  file/logs:
    path: {{DIR}}/logs.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [redaction/traces]
      exporters: [file/traces]
    logs:
      receivers: [otlp]
      processors: [redaction/logs]
      exporters: [file/logs]
)yaml";

TEST(RedactionEndToEndTest, RedactionProcessorsInTheDaemon) {
  auto vars = testing::PortVars();
  DaemonProcess daemon("redaction-e2e");
  ASSERT_TRUE(daemon.StartWithConfig(kConfig, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(testing::PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(testing::PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();

  TracesRequest traces;
  auto* rs = traces.add_resource_spans();
  *rs->mutable_resource()->add_attributes() = Str("service.name", "checkout");
  auto* s = rs->add_scope_spans()->add_spans();
  s->set_trace_id(std::string(16, '\x0a'));
  s->set_span_id(std::string(8, '\x0b'));
  s->set_name("POST /pay");
  for (const KeyValue& kv :
       {Str("http.route", "/pay"), Str("customer.email", "erin@bank.example"),
        Str("payment.card", "5555 5555 5555 4444"), Str("db.password", "hunter2"),
        Str("note", "wire to IBANDE89370400440532013000 today")}) {
    *s->add_attributes() = kv;
  }
  testing::OtlpGrpcClient client(testing::PortOf(vars, "GRPC_PORT"));
  grpc::Status status = client.Export(traces);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << daemon.Stderr();

  LogsRequest logs;
  auto* record = logs.add_resource_logs()->add_scope_logs()->add_log_records();
  record->mutable_body()->set_string_value("login ok for frank@mail.example");
  *record->add_attributes() = Str("card", "4111111111111111");
  testing::HttpResult r =
      testing::HttpPost(testing::LocalUrl(testing::PortOf(vars, "HTTP_PORT"), "/v1/logs"),
                        EncodeOtlpJson(logs), {"Content-Type: application/json"});
  ASSERT_EQ(r.status, 200) << r.error << r.body << "\n" << daemon.Stderr();

  const auto trace_lines = testing::WaitForLines(daemon.File("traces.jsonl"), 1);
  const auto log_lines = testing::WaitForLines(daemon.File("logs.jsonl"), 1);
  ASSERT_EQ(trace_lines.size(), 1u) << daemon.Stderr();
  ASSERT_EQ(log_lines.size(), 1u) << daemon.Stderr();
  // Nothing sensitive reached the disk, in any form.
  for (const char* secret : {"erin@", "5555", "hunter2", "IBANDE", "frank@", "4111"}) {
    EXPECT_THAT(trace_lines[0] + log_lines[0], Not(HasSubstr(secret)));
  }

  auto written = testing::ReadTracesFile(daemon.File("traces.jsonl"));
  ASSERT_TRUE(written.ok()) << written.status();
  const auto& span = (*written)[0].resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(Describe(span.attributes()),
            "http.route=Str:/pay customer.email=Str:**** payment.card=Str:**** "
            "note=Str:wire to **** today redaction.redacted.keys=Str:db.password "
            "redaction.redacted.count=Int:1 "
            "redaction.masked.keys=Str:customer.email,note,payment.card "
            "redaction.masked.count=Int:3");
  EXPECT_EQ(span.name(), "POST /pay");

  auto logs_out = testing::ReadLogsFile(daemon.File("logs.jsonl"));
  ASSERT_TRUE(logs_out.ok()) << logs_out.status();
  const auto& l = (*logs_out)[0].resource_logs(0).scope_logs(0).log_records(0);
  // sha1 of the matches.
  EXPECT_EQ(l.body().string_value(), "login ok for bb2f008fdf06697641ade81b5830813f57e42134");
  EXPECT_EQ(Describe(l.attributes()), "card=Str:68bfb396f35af3876fc509665b3dc23a0930aab1");
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

TEST(RedactionEndToEndTest, ValidateReportsBadSettingsWithTheirPlace) {
  testing::CommandResult r =
      testing::RunOtlpd({"validate", "--config", "{{DIR}}/bad.yaml"}, {{"bad.yaml", R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  redaction:
    allow_all_keys: true
    blocked_values: ["[unclosed"]
    hash_function: sha256
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [redaction]
      exporters: [nop]
)"}});
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:9:21: processors::redaction::blocked_values: entry 0: "
                               "invalid regular expression \"[unclosed\""));
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:10:20: processors::redaction::hash_function: invalid "
                               "value \"sha256\""));
}

}  // namespace
}  // namespace otlpd::attrtest
