// tail_sampling in the daemon: kill -9 while 10,000 traces wait for their decision, restart,
// and every acknowledged span is decided and reaches the file exporter; SIGTERM decides
// everything pending before the daemon exits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "processors/tail_sampling/tail_test_util.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/otlp_data.h"
#include "testing/prometheus.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace otlpd::tailtest {
namespace {

using otlpd::testing::DaemonProcess;
using otlpd::testing::PortOf;
using otlpd::testing::WaitUntil;

constexpr char kConfig[] = R"yaml(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
processors:
  tail_sampling:
    decision_wait: {{WAIT}}
    num_traces: 100000
    directory: {{DATA}}/buffer
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - {name: rest, type: always_sample}
exporters:
  file:
    path: {{DATA}}/{{OUT}}
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [tail_sampling]
      exporters: [file]
)yaml";

// Spans in an exporter file, and how many (trace, span) pairs came more than once.
int64_t SpansIn(const std::string& path, int* duplicates) {
  auto requests = otlpd::testing::ReadTracesFile(path);
  if (!requests.ok()) return 0;
  *duplicates = 0;
  std::set<std::pair<std::string, std::string>> seen;
  int64_t n = 0;
  for (const TracesRequest& r : *requests) {
    for (const auto& rs : r.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) {
          ++n;
          if (!seen.emplace(s.trace_id(), s.span_id()).second) ++*duplicates;
        }
      }
    }
  }
  return n;
}

// Sends `traces` traces of 2 spans each (trace ids from `first`), 250 traces a request.
void SendTraces(int grpc_port, uint64_t first, int traces) {
  otlpd::testing::OtlpGrpcClient client(grpc_port);
  for (int done = 0; done < traces; done += 250) {
    TracesRequest r;
    for (int t = done; t < std::min(traces, done + 250); ++t) {
      for (int s = 0; s < 2; ++s) AddSpan(&r, "svc", TraceIdOf(first + t), t * 2 + s);
    }
    grpc::Status status = client.Export(r);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
}

TEST(TailSamplingEndToEndTest, KillNineWithTenThousandPendingTracesLosesNoneAfterRestart) {
  otlpd::testing::TempDir data("tail-kill9-data");
  DaemonProcess daemon("tail-kill9");
  auto vars = otlpd::testing::PortVars();
  vars["DATA"] = data.path();
  vars["WAIT"] = "1h";
  vars["OUT"] = "before.jsonl";
  ASSERT_TRUE(daemon.StartWithConfig(kConfig, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  constexpr int kTraces = 10000;
  SendTraces(PortOf(vars, "GRPC_PORT"), 1, kTraces);
  absl::SleepFor(absl::Milliseconds(1100));  // every span received over a second ago
  EXPECT_EQ(daemon.Kill9(), 137);
  int duplicates = 0;
  EXPECT_EQ(SpansIn(data.File("before.jsonl"), &duplicates), 0);  // nothing was due yet

  // Restarted with a short decision_wait: the recovered traces are decided and forwarded.
  vars["WAIT"] = "500ms";
  vars["OUT"] = "after.jsonl";
  DaemonProcess restarted("tail-kill9-restarted");
  ASSERT_TRUE(restarted.StartWithConfig(kConfig, vars).ok());
  ASSERT_TRUE(restarted.WaitForPort(PortOf(vars, "GRPC_PORT"))) << restarted.Stderr();
  int64_t forwarded = 0;
  EXPECT_TRUE(WaitUntil(
      [&] {
        forwarded = SpansIn(data.File("after.jsonl"), &duplicates);
        return forwarded >= 2 * kTraces;
      },
      absl::Seconds(30)))
      << forwarded << "\n"
      << restarted.Stderr();
  std::printf("after kill -9 and restart: %lld of %d spans decided and forwarded\n",
              static_cast<long long>(forwarded), 2 * kTraces);
  EXPECT_GE(forwarded, 2 * kTraces * 99 / 100);
  EXPECT_EQ(duplicates, 0);
  std::string metrics = otlpd::testing::ScrapeMetrics(PortOf(vars, "METRICS_PORT"));
  EXPECT_THAT(metrics, ::testing::HasSubstr(absl::StrCat(
                           "otelcol_processor_tail_sampling_recovered_traces{processor="
                           "\"tail_sampling\"} ",
                           kTraces)));
  EXPECT_EQ(restarted.Stop(), 0) << restarted.Stderr();
}

TEST(TailSamplingEndToEndTest, SigtermDecidesEverythingPending) {
  otlpd::testing::TempDir data("tail-sigterm-data");
  DaemonProcess daemon("tail-sigterm");
  auto vars = otlpd::testing::PortVars();
  vars["DATA"] = data.path();
  vars["WAIT"] = "1h";
  vars["OUT"] = "out.jsonl";
  ASSERT_TRUE(daemon.StartWithConfig(kConfig, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  SendTraces(PortOf(vars, "GRPC_PORT"), 50000, 2000);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
  int duplicates = 0;
  EXPECT_EQ(SpansIn(data.File("out.jsonl"), &duplicates), 4000) << daemon.Stderr();
  EXPECT_EQ(duplicates, 0);

  // Nothing is left for the next start.
  vars["OUT"] = "again.jsonl";
  DaemonProcess again("tail-sigterm-again");
  ASSERT_TRUE(again.StartWithConfig(kConfig, vars).ok());
  ASSERT_TRUE(again.WaitForPort(PortOf(vars, "GRPC_PORT"))) << again.Stderr();
  EXPECT_EQ(again.Stop(), 0) << again.Stderr();
  EXPECT_EQ(SpansIn(data.File("again.jsonl"), &duplicates), 0);
}

}  // namespace
}  // namespace otlpd::tailtest
