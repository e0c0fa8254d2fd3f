// The forward connector joining pipelines: traces/in (otlp receiver) exports to `forward`,
// which feeds traces/out (batch -> file) and traces/raw (-> file/raw). Data sent once
// arrives once in each file. `otlpd validate` (and the daemon) reject a connector used on
// one side only and a cycle of connectors, at the offending entry's file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"

namespace otlpd::testing {
namespace {

constexpr char kConnectorConfig[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
processors:
  batch:
exporters:
  file:
    path: {{DIR}}/out.jsonl
  file/raw:
    path: {{DIR}}/raw.jsonl
connectors:
  forward:
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces/in:
      receivers: [otlp]
      exporters: [forward]
    traces/out:
      receivers: [forward]
      processors: [batch]
      exporters: [file]
    traces/raw:
      receivers: [forward]
      exporters: [file/raw]
)";

// Serialized requests, sorted: equal vectors mean the same requests the same number of
// times.
std::vector<std::string> Canonical(const std::vector<TracesRequest>& requests) {
  std::vector<std::string> out;
  for (const auto& r : requests) out.push_back(r.SerializeAsString());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ConnectorTest, ForwardFeedsBothPipelinesExactlyOnce) {
  DaemonProcess daemon("connector");
  auto vars = PortVars();
  ASSERT_TRUE(daemon.StartWithConfig(kConnectorConfig, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();

  std::vector<TracesRequest> sent;
  OtlpGrpcClient grpc_client(PortOf(vars, "GRPC_PORT"));
  const std::string url = LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces");
  for (int i = 0; i < 6; ++i) {
    SampleOptions options;
    options.seed = 4100 + i;
    options.resources = 1 + i % 2;
    options.items_per_scope = 3 + i;
    sent.push_back(MakeTraces(options));
    if (i % 3 == 0) {
      grpc::Status s = grpc_client.Export(sent.back());
      ASSERT_TRUE(s.ok()) << s.error_message() << daemon.Stderr();
    } else if (i % 3 == 1) {
      HttpResult r =
          HttpPost(url, sent.back().SerializeAsString(), {"Content-Type: application/x-protobuf"});
      ASSERT_EQ(r.status, 200) << r.error << r.body;
    } else {
      HttpResult r = HttpPost(url, EncodeOtlpJson(sent.back()), {"Content-Type: application/json"});
      ASSERT_EQ(r.status, 200) << r.error << r.body;
    }
  }
  // Stopping flushes everything; the answers above already mean "written".
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();

  // traces/raw: every request as it was sent, once.
  auto raw = ReadTracesFile(daemon.File("raw.jsonl"));
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->size(), sent.size());
  EXPECT_TRUE(Canonical(*raw) == Canonical(sent))
      << "traces/raw does not hold exactly the requests sent";
  // traces/out: the same spans, once each, possibly merged by batch.
  auto out = ReadTracesFile(daemon.File("out.jsonl"));
  ASSERT_TRUE(out.ok()) << out.status();
  int duplicates = -1;
  EXPECT_EQ(TraceIds(*out, &duplicates), TraceIds(sent));
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(TotalItems(*out), TotalItems(sent));
}

// A connector only exported to, and one only received from.
constexpr char kOneSided[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: {{DIR}}/out.jsonl
connectors:
  forward:
  forward/lonely:
service:
  pipelines:
    traces/in:
      receivers: [otlp]
      exporters: [forward]
    traces/out:
      receivers: [otlp, forward/lonely]
      exporters: [file]
)";

// traces/a -> forward/a -> traces/b -> forward/b -> traces/a.
constexpr char kCycle[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: {{DIR}}/out.jsonl
connectors:
  forward/a:
  forward/b:
service:
  pipelines:
    traces/a:
      receivers: [otlp, forward/b]
      exporters: [forward/a]
    traces/b:
      receivers: [forward/a]
      exporters: [file, forward/b]
)";

TEST(ConnectorTest, ValidateRejectsConnectorUsedOnOneSide) {
  CommandResult r =
      RunOtlpd({"validate", "--config", "{{DIR}}/one-sided.yaml"}, {{"one-sided.yaml", kOneSided}});
  EXPECT_EQ(r.exit_status, 2) << r.out << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr(
                         "one-sided.yaml:16:19: service::pipelines::traces/in::exporters[0]: "
                         "connector \"forward\" is used as exporter in traces pipeline but not "
                         "used in any supported receiver pipeline"));
  EXPECT_THAT(r.err, ::testing::HasSubstr(
                         "one-sided.yaml:18:25: service::pipelines::traces/out::receivers[1]: "
                         "connector \"forward/lonely\" is used as receiver in traces pipeline "
                         "but not used in any supported exporter pipeline"));
}

TEST(ConnectorTest, ValidateRejectsCycle) {
  CommandResult r =
      RunOtlpd({"validate", "--config", "{{DIR}}/cycle.yaml"}, {{"cycle.yaml", kCycle}});
  EXPECT_EQ(r.exit_status, 2) << r.out << r.err;
  // Reported at the entry that closes the loop: forward/b in traces/b's exporters.
  EXPECT_THAT(r.err, ::testing::HasSubstr(
                         "cycle.yaml:19:25: service::pipelines::traces/b::exporters[1]: cycle "
                         "detected: connector \"forward/b\" closes the loop traces/a -> traces/b "
                         "-> traces/a"));
}

TEST(ConnectorTest, DaemonRefusesToStartWithACycle) {
  CommandResult r = RunOtlpd({"--config", "{{DIR}}/cycle.yaml"}, {{"cycle.yaml", kCycle}});
  EXPECT_EQ(r.exit_status, 2) << r.out << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("cycle detected"));
}

}  // namespace
}  // namespace otlpd::testing
