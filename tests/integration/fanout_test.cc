// Fan-out: one pipeline with a dead exporter next to a working one, and one receiver shared
// by two pipelines.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"
#include "testing/prometheus.h"
#include "testing/wait.h"

namespace otlpd::testing {
namespace {

TEST(FanoutTest, DeadExporterDoesNotStopTheOther) {
  auto vars = PortVars({"DOWN_PORT"});  // nothing listens on DOWN_PORT
  const std::string yaml = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
exporters:
  otlp/down:
    endpoint: 127.0.0.1:{{DOWN_PORT}}
    tls:
      insecure: true
    sending_queue:
      enabled: true
      queue_size: 1000
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
      max_interval: 500ms
      max_elapsed_time: 120s
  file:
    path: {{DIR}}/traces.jsonl
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp/down, file]
)";
  DaemonProcess daemon("fanout-dead");
  ASSERT_TRUE(daemon.StartWithConfig(yaml, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "METRICS_PORT"))) << daemon.Stderr();

  OtlpGrpcClient client(PortOf(vars, "GRPC_PORT"));
  std::vector<TracesRequest> sent;
  constexpr int kRequests = 30;
  for (int i = 0; i < kRequests; ++i) {
    SampleOptions options;
    options.seed = 700 + i;
    options.items_per_scope = 4;
    sent.push_back(MakeTraces(options));
    grpc::Status s = client.Export(sent.back(), nullptr, {.timeout = absl::Seconds(5)});
    ASSERT_TRUE(s.ok()) << "request " << i << ": " << s.error_code() << " " << s.error_message()
                        << "\n"
                        << daemon.Stderr();
  }
  const std::string file = daemon.File("traces.jsonl");
  ASSERT_EQ(WaitForLines(file, kRequests).size(), size_t{kRequests}) << daemon.Stderr();
  auto written = ReadTracesFile(file);
  ASSERT_TRUE(written.ok()) << written.status();
  for (int i = 0; i < kRequests; ++i) EXPECT_EQ(ProtoDiff(sent[i], written->at(i)), "") << i;

  // The dead exporter holds the data in its queue (or has given some up as failed).
  const std::string metrics_url = LocalUrl(PortOf(vars, "METRICS_PORT"), "/metrics");
  std::string text;
  const std::vector<std::pair<std::string, std::string>> down = {{"exporter", "otlp/down"}};
  bool seen = WaitUntil(
      [&] {
        text = HttpGet(metrics_url).body;
        return SelfMetric(text, "otelcol_exporter_queue_size", down).value_or(0) > 0 ||
               SelfMetric(text, "otelcol_exporter_send_failed_spans", down).value_or(0) > 0;
      },
      absl::Seconds(10));
  EXPECT_TRUE(seen) << text;
  EXPECT_THAT(SelfMetric(text, "otelcol_exporter_queue_capacity", down),
              ::testing::Optional(1000.0))
      << text;
  // The file exporter sent everything; the dead one nothing.
  EXPECT_THAT(SelfMetric(text, "otelcol_exporter_sent_spans", {{"exporter", "file"}}),
              ::testing::Optional(static_cast<double>(TotalItems(sent))))
      << text;
  EXPECT_THAT(SelfMetric(text, "otelcol_exporter_sent_spans", down).value_or(0), 0.0);

  // Shutting down with a queue that cannot drain must still end promptly and cleanly.
  absl::Time t0 = absl::Now();
  EXPECT_EQ(daemon.Stop(SIGTERM, absl::Seconds(30)), 0) << daemon.Stderr();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(20));
}

TEST(FanoutTest, ReceiverSharedByTwoPipelines) {
  auto vars = PortVars();
  const std::string yaml = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
processors:
  batch:
    timeout: 100ms
exporters:
  file/a:
    path: {{DIR}}/a.jsonl
  file/b:
    path: {{DIR}}/b.jsonl
  file/logs:
    path: {{DIR}}/logs.jsonl
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces/a:
      receivers: [otlp]
      exporters: [file/a]
    traces/b:
      receivers: [otlp]
      processors: [batch]
      exporters: [file/b]
    logs:
      receivers: [otlp]
      exporters: [file/logs]
)";
  DaemonProcess daemon("fanout-shared");
  ASSERT_TRUE(daemon.StartWithConfig(yaml, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();

  OtlpGrpcClient client(PortOf(vars, "GRPC_PORT"));
  std::vector<TracesRequest> sent;
  constexpr int kRequests = 10;
  for (int i = 0; i < kRequests; ++i) {
    SampleOptions options;
    options.seed = 800 + i;
    sent.push_back(MakeTraces(options));
    if (i % 2 == 0) {
      grpc::Status s = client.Export(sent.back());
      ASSERT_TRUE(s.ok()) << s.error_message() << daemon.Stderr();
    } else {
      HttpResult r =
          HttpPost(LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces"),
                   sent.back().SerializeAsString(), {"Content-Type: application/x-protobuf"});
      ASSERT_EQ(r.status, 200) << r.error << r.body;
    }
  }
  LogsRequest log = MakeLogs();
  ASSERT_TRUE(client.Export(log).ok());

  const long want = static_cast<long>(TotalItems(sent));
  EXPECT_EQ(WaitForItems(Signal::kTraces, daemon.File("a.jsonl"), want), want);
  EXPECT_EQ(WaitForItems(Signal::kTraces, daemon.File("b.jsonl"), want), want);
  absl::SleepFor(absl::Milliseconds(300));
  for (const char* name : {"a.jsonl", "b.jsonl"}) {
    auto written = ReadTracesFile(daemon.File(name));
    ASSERT_TRUE(written.ok()) << written.status();
    int duplicates = -1;
    EXPECT_EQ(TraceIds(*written, &duplicates), TraceIds(sent)) << name;
    EXPECT_EQ(duplicates, 0) << name;
    EXPECT_EQ(static_cast<long>(TotalItems(*written)), want) << name;
  }
  // Unbatched pipeline a keeps requests as they came.
  auto a = ReadTracesFile(daemon.File("a.jsonl"));
  ASSERT_EQ(a->size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(ProtoDiff(sent[i], a->at(i)), "") << i;
  // Logs went only to the logs pipeline.
  ASSERT_EQ(WaitForLines(daemon.File("logs.jsonl"), 1).size(), 1u);
  auto logs = ReadLogsFile(daemon.File("logs.jsonl"));
  ASSERT_TRUE(logs.ok());
  EXPECT_EQ(ProtoDiff(log, logs->at(0)), "");

  // Self-metrics count what the receiver accepted once, not once per pipeline.
  std::string text = HttpGet(LocalUrl(PortOf(vars, "METRICS_PORT"), "/metrics")).body;
  double grpc_spans = SelfMetric(text, "otelcol_receiver_accepted_spans",
                                 {{"receiver", "otlp"}, {"transport", "grpc"}})
                          .value_or(-1);
  double http_spans = SelfMetric(text, "otelcol_receiver_accepted_spans",
                                 {{"receiver", "otlp"}, {"transport", "http"}})
                          .value_or(-1);
  EXPECT_EQ(grpc_spans + http_spans, static_cast<double>(want)) << text;
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

}  // namespace
}  // namespace otlpd::testing
