// Two daemons in a chain: otlpd A (otlp receiver -> otlp or otlphttp exporter) forwards to
// otlpd B (otlp receiver -> file). What B writes must be exactly what was sent to A.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/otlp_json.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"

namespace otlpd::testing {
namespace {

struct ChainCase {
  std::string name;
  std::string exporter_yaml;  // the "exporters:" body of A; must define exporter "forward"
  std::string exporter_id;
};

const ChainCase kChains[] = {
    {"OtlpGrpc", R"(  otlp/forward:
    endpoint: 127.0.0.1:{{B_GRPC_PORT}}
    tls:
      insecure: true
)",
     "otlp/forward"},
    {"OtlpGrpcGzip", R"(  otlp/forward:
    endpoint: 127.0.0.1:{{B_GRPC_PORT}}
    compression: gzip
    tls:
      insecure: true
)",
     "otlp/forward"},
    {"OtlpGrpcNoQueue", R"(  otlp/forward:
    endpoint: 127.0.0.1:{{B_GRPC_PORT}}
    tls:
      insecure: true
    sending_queue:
      enabled: false
)",
     "otlp/forward"},
    {"OtlpHttpProto", R"(  otlphttp/forward:
    endpoint: http://127.0.0.1:{{B_HTTP_PORT}}
    encoding: proto
)",
     "otlphttp/forward"},
    {"OtlpHttpJson", R"(  otlphttp/forward:
    endpoint: http://127.0.0.1:{{B_HTTP_PORT}}
    encoding: json
)",
     "otlphttp/forward"},
    {"OtlpHttpProtoGzip", R"(  otlphttp/forward:
    endpoint: http://127.0.0.1:{{B_HTTP_PORT}}
    encoding: proto
    compression: gzip
)",
     "otlphttp/forward"},
    {"OtlpHttpJsonGzip", R"(  otlphttp/forward:
    endpoint: http://127.0.0.1:{{B_HTTP_PORT}}
    encoding: json
    compression: gzip
)",
     "otlphttp/forward"},
};

constexpr char kForwarderTemplate[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
exporters:
EXPORTERS
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [EXPORTER_ID]
    metrics:
      receivers: [otlp]
      exporters: [EXPORTER_ID]
    logs:
      receivers: [otlp]
      exporters: [EXPORTER_ID]
)";

// Compares as multisets: an exporter with several queue consumers may reorder requests.
template <class Request>
void ExpectSameRequests(const std::vector<Request>& sent, const std::vector<Request>& got) {
  ASSERT_EQ(sent.size(), got.size());
  std::vector<std::string> a, b;
  for (const auto& r : sent) a.push_back(r.SerializeAsString());
  for (const auto& r : got) b.push_back(r.SerializeAsString());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a == b) return;
  // Find a differing pair for a readable message.
  for (const auto& s : sent) {
    bool found = false;
    for (const auto& g : got) found |= ProtoDiff(s, g).empty();
    if (!found) {
      std::string closest = got.empty() ? "nothing received" : ProtoDiff(s, got.front());
      ADD_FAILURE() << "sent request not found downstream; diff to first received:\n" << closest;
      return;
    }
  }
  ADD_FAILURE() << "same requests but different multiplicities";
}

class ChainTest : public ::testing::TestWithParam<ChainCase> {
 protected:
  void SetUp() override {
    b_vars_ = PortVars();
    ASSERT_TRUE(b_.StartWithConfig(FileSinkConfig(), b_vars_).ok());
    ASSERT_TRUE(b_.WaitForPort(PortOf(b_vars_, "GRPC_PORT"))) << b_.Stderr();
    ASSERT_TRUE(b_.WaitForPort(PortOf(b_vars_, "HTTP_PORT"))) << b_.Stderr();

    a_vars_ = PortVars();
    a_vars_["B_GRPC_PORT"] = b_vars_["GRPC_PORT"];
    a_vars_["B_HTTP_PORT"] = b_vars_["HTTP_PORT"];
    std::string yaml = absl::StrReplaceAll(
        kForwarderTemplate,
        {{"EXPORTERS\n", GetParam().exporter_yaml}, {"EXPORTER_ID", GetParam().exporter_id}});
    ASSERT_TRUE(a_.StartWithConfig(yaml, a_vars_).ok());
    ASSERT_TRUE(a_.WaitForPort(PortOf(a_vars_, "GRPC_PORT"))) << a_.Stderr();
    ASSERT_TRUE(a_.WaitForPort(PortOf(a_vars_, "HTTP_PORT"))) << a_.Stderr();
  }

  void TearDown() override {
    EXPECT_EQ(a_.Stop(), 0) << a_.Stderr();
    EXPECT_EQ(b_.Stop(), 0) << b_.Stderr();
  }

  std::map<std::string, std::string> a_vars_, b_vars_;
  DaemonProcess a_{"chain-a"};
  DaemonProcess b_{"chain-b"};
};

TEST_P(ChainTest, AllSignalsArriveDownstreamExactly) {
  OtlpGrpcClient grpc_client(PortOf(a_vars_, "GRPC_PORT"));
  std::vector<TracesRequest> traces;
  std::vector<MetricsRequest> metrics;
  std::vector<LogsRequest> logs;
  constexpr int kRequests = 4;
  for (int i = 0; i < kRequests; ++i) {
    SampleOptions options;
    options.seed = 500 + i;
    options.resources = 2;
    options.items_per_scope = 4;
    traces.push_back(MakeTraces(options));
    metrics.push_back(MakeMetrics(options));
    logs.push_back(MakeLogs(options));
    // Half over gRPC, half over HTTP into A.
    if (i % 2 == 0) {
      grpc::Status s = grpc_client.Export(traces.back());
      ASSERT_TRUE(s.ok()) << s.error_message() << a_.Stderr();
      s = grpc_client.Export(metrics.back());
      ASSERT_TRUE(s.ok()) << s.error_message() << a_.Stderr();
      s = grpc_client.Export(logs.back());
      ASSERT_TRUE(s.ok()) << s.error_message() << a_.Stderr();
    } else {
      const int port = PortOf(a_vars_, "HTTP_PORT");
      const std::vector<std::string> proto = {"Content-Type: application/x-protobuf"};
      EXPECT_EQ(
          HttpPost(LocalUrl(port, "/v1/traces"), traces.back().SerializeAsString(), proto).status,
          200);
      EXPECT_EQ(
          HttpPost(LocalUrl(port, "/v1/metrics"), metrics.back().SerializeAsString(), proto).status,
          200);
      EXPECT_EQ(HttpPost(LocalUrl(port, "/v1/logs"), EncodeOtlpJson(logs.back()),
                         {"Content-Type: application/json"})
                    .status,
                200);
    }
  }

  for (Signal s : kAllSignals) {
    EXPECT_GE(WaitForLines(b_.File(SinkFileName(s)), kRequests).size(), size_t{kRequests})
        << SignalName(s) << "\nA:\n"
        << a_.Stderr() << "\nB:\n"
        << b_.Stderr();
  }
  auto got_traces = ReadTracesFile(b_.File(SinkFileName(Signal::kTraces)));
  auto got_metrics = ReadMetricsFile(b_.File(SinkFileName(Signal::kMetrics)));
  auto got_logs = ReadLogsFile(b_.File(SinkFileName(Signal::kLogs)));
  ASSERT_TRUE(got_traces.ok()) << got_traces.status();
  ASSERT_TRUE(got_metrics.ok()) << got_metrics.status();
  ASSERT_TRUE(got_logs.ok()) << got_logs.status();
  ExpectSameRequests(traces, *got_traces);
  ExpectSameRequests(metrics, *got_metrics);
  ExpectSameRequests(logs, *got_logs);
}

INSTANTIATE_TEST_SUITE_P(Exporters, ChainTest, ::testing::ValuesIn(kChains),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace otlpd::testing
