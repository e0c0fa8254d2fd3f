// health_check, the self-metrics endpoint, and flushing pending data on SIGTERM.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"
#include "testing/prometheus.h"
#include "testing/wait.h"

namespace otlpd::testing {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

class HealthMetricsTest : public ::testing::Test {
 protected:
  void Start(std::string_view processors = "[]", std::string_view definitions = "") {
    vars_ = PortVars();
    ASSERT_TRUE(daemon_.StartWithConfig(FileSinkConfig(processors, definitions), vars_).ok());
    for (const char* port : {"GRPC_PORT", "HTTP_PORT", "HEALTH_PORT", "METRICS_PORT"}) {
      ASSERT_TRUE(daemon_.WaitForPort(PortOf(vars_, port))) << port << "\n" << daemon_.Stderr();
    }
  }
  int port(const char* name) const { return PortOf(vars_, name); }

  std::map<std::string, std::string> vars_;
  DaemonProcess daemon_{"health-metrics"};
};

TEST_F(HealthMetricsTest, HealthCheckAnswers200WhileRunning) {
  Start();
  for (int i = 0; i < 3; ++i) {
    HttpResult r = HttpGet(LocalUrl(port("HEALTH_PORT"), "/"));
    EXPECT_EQ(r.status, 200) << r.error << " " << r.body;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(daemon_.Stop(), 0) << daemon_.Stderr();
  // Once stopped, nothing answers any more.
  EXPECT_EQ(HttpGet(LocalUrl(port("HEALTH_PORT"), "/"), absl::Seconds(2)).status, 0);
}

TEST_F(HealthMetricsTest, SelfMetricsCountAcceptedAndSentItems) {
  Start();
  OtlpGrpcClient client(port("GRPC_PORT"));
  size_t grpc_spans = 0, http_spans = 0, grpc_points = 0, http_records = 0;
  for (int i = 0; i < 5; ++i) {
    SampleOptions options;
    options.seed = 40 + i;
    options.items_per_scope = 2 + i;
    TracesRequest traces = MakeTraces(options);
    ASSERT_TRUE(client.Export(traces).ok());
    grpc_spans += CountItems(traces);
    options.seed += 100;
    traces = MakeTraces(options);
    HttpResult r = HttpPost(LocalUrl(port("HTTP_PORT"), "/v1/traces"), EncodeOtlpJson(traces),
                            {"Content-Type: application/json"});
    ASSERT_EQ(r.status, 200) << r.body;
    http_spans += CountItems(traces);
    MetricsRequest metrics = MakeMetrics(options);
    ASSERT_TRUE(client.Export(metrics).ok());
    grpc_points += CountItems(metrics);
    LogsRequest logs = MakeLogs(options);
    r = HttpPost(LocalUrl(port("HTTP_PORT"), "/v1/logs"), logs.SerializeAsString(),
                 {"Content-Type: application/x-protobuf"});
    ASSERT_EQ(r.status, 200) << r.body;
    http_records += CountItems(logs);
  }
  // A refused (undecodable) request counts nowhere as accepted.
  ASSERT_EQ(HttpPost(LocalUrl(port("HTTP_PORT"), "/v1/traces"), "garbage\xff",
                     {"Content-Type: application/x-protobuf"})
                .status,
            400);

  const double all_spans = static_cast<double>(grpc_spans + http_spans);
  std::string text;
  bool settled = WaitUntil(
      [&] {
        text = ScrapeMetrics(port("METRICS_PORT"));
        return SelfMetric(text, "otelcol_exporter_sent_spans", {{"exporter", "file/traces"}})
                   .value_or(0) >= all_spans;
      },
      absl::Seconds(10));
  EXPECT_TRUE(settled) << text;
  const Labels grpc = {{"receiver", "otlp"}, {"transport", "grpc"}};
  const Labels http = {{"receiver", "otlp"}, {"transport", "http"}};
  EXPECT_THAT(SelfMetric(text, "otelcol_receiver_accepted_spans", grpc),
              ::testing::Optional(static_cast<double>(grpc_spans)))
      << text;
  EXPECT_THAT(SelfMetric(text, "otelcol_receiver_accepted_spans", http),
              ::testing::Optional(static_cast<double>(http_spans)))
      << text;
  EXPECT_THAT(SelfMetric(text, "otelcol_receiver_accepted_metric_points", grpc),
              ::testing::Optional(static_cast<double>(grpc_points)))
      << text;
  EXPECT_THAT(SelfMetric(text, "otelcol_receiver_accepted_log_records", http),
              ::testing::Optional(static_cast<double>(http_records)))
      << text;
  EXPECT_THAT(SelfMetric(text, "otelcol_exporter_sent_spans", {{"exporter", "file/traces"}}),
              ::testing::Optional(all_spans))
      << text;
  EXPECT_THAT(
      SelfMetric(text, "otelcol_exporter_sent_metric_points", {{"exporter", "file/metrics"}}),
      ::testing::Optional(static_cast<double>(grpc_points)))
      << text;
  EXPECT_THAT(SelfMetric(text, "otelcol_exporter_sent_log_records", {{"exporter", "file/logs"}}),
              ::testing::Optional(static_cast<double>(http_records)))
      << text;
  EXPECT_EQ(SelfMetric(text, "otelcol_receiver_accepted_spans", {{"receiver", "otlp"}}).value_or(0),
            all_spans)
      << text;
  // The file agrees.
  EXPECT_EQ(CountFileItems(Signal::kTraces, daemon_.File(SinkFileName(Signal::kTraces))),
            static_cast<long>(all_spans));
  EXPECT_EQ(daemon_.Stop(), 0) << daemon_.Stderr();
}

TEST_F(HealthMetricsTest, MetricsEndpointIsPrometheusText) {
  Start();
  HttpResult r = HttpGet(LocalUrl(port("METRICS_PORT"), "/metrics"));
  ASSERT_EQ(r.status, 200) << r.error;
  ASSERT_NE(r.Header("content-type"), nullptr);
  EXPECT_THAT(*r.Header("content-type"), ::testing::StartsWith("text/plain"));
  EXPECT_THAT(r.body, ::testing::HasSubstr("# TYPE "));
  EXPECT_FALSE(ParsePrometheus(r.body).empty());
  EXPECT_EQ(daemon_.Stop(), 0) << daemon_.Stderr();
}

TEST_F(HealthMetricsTest, SigtermFlushesBatchedData) {
  // The batch would hold the data for 10s; shutdown must flush it right away. Under the
  // acknowledgement contract (README) the clients are held until their batch is written, so
  // they send from threads and must all get OK once SIGTERM has flushed the batch.
  Start("[memory_limiter, batch]",
        "  memory_limiter:\n    check_interval: 1s\n    limit_mib: 4000\n"
        "  batch:\n    send_batch_size: 100000\n    timeout: 10s\n");
  std::vector<TracesRequest> sent;
  for (int i = 0; i < 5; ++i) {
    SampleOptions options;
    options.seed = 3000 + i;
    sent.push_back(MakeTraces(options));
  }
  LogsRequest logs = MakeLogs();
  std::vector<grpc::Status> grpc_results(sent.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < sent.size(); ++i) {
    clients.emplace_back([&, i] {
      OtlpGrpcClient client(port("GRPC_PORT"));
      grpc_results[i] = client.Export(sent[i]);
    });
  }
  HttpResult http_result;
  clients.emplace_back([&] {
    http_result = HttpPost(LocalUrl(port("HTTP_PORT"), "/v1/logs"), logs.SerializeAsString(),
                           {"Content-Type: application/x-protobuf"}, absl::Seconds(30));
  });
  // Everything has passed memory_limiter (in front of batch) and sits in the batch.
  const double total_spans = static_cast<double>(TotalItems(sent));
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        std::string text = ScrapeMetrics(port("METRICS_PORT"));
        return SelfMetric(text, "otelcol_processor_accepted_spans", {}).value_or(0) ==
                   total_spans &&
               SelfMetric(text, "otelcol_processor_accepted_log_records", {}).value_or(0) ==
                   static_cast<double>(CountItems(logs));
      },
      absl::Seconds(10)));
  absl::Time t0 = absl::Now();
  EXPECT_EQ(daemon_.Stop(SIGTERM), 0) << daemon_.Stderr();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5)) << "shutdown waited for the batch timeout";
  for (auto& c : clients) c.join();
  for (const grpc::Status& s : grpc_results) EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(http_result.status, 200) << http_result.error;

  auto traces = ReadTracesFile(daemon_.File(SinkFileName(Signal::kTraces)));
  ASSERT_TRUE(traces.ok()) << traces.status();
  int duplicates = -1;
  EXPECT_EQ(TraceIds(*traces, &duplicates), TraceIds(sent)) << daemon_.Stderr();
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(TotalItems(*traces), TotalItems(sent));
  EXPECT_EQ(CountFileItems(Signal::kLogs, daemon_.File(SinkFileName(Signal::kLogs))),
            static_cast<long>(CountItems(logs)));
}

// Idle client connections must not hold up shutdown: an open gRPC channel...
TEST_F(HealthMetricsTest, ShutdownIsPromptWithOpenGrpcChannel) {
  Start();
  OtlpGrpcClient grpc_client(port("GRPC_PORT"));
  ASSERT_TRUE(grpc_client.Export(MakeTraces()).ok());
  absl::Time t0 = absl::Now();
  EXPECT_EQ(daemon_.Stop(SIGTERM), 0) << daemon_.Stderr();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(3)) << daemon_.Stderr();
}

// ...nor an HTTP keep-alive connection.
TEST_F(HealthMetricsTest, ShutdownIsPromptWithOpenHttpConnection) {
  Start();
  HttpClient http_client;
  ASSERT_EQ(http_client
                .Post(LocalUrl(port("HTTP_PORT"), "/v1/logs"), MakeLogs().SerializeAsString(),
                      {"Content-Type: application/x-protobuf"})
                .status,
            200);
  absl::Time t0 = absl::Now();
  EXPECT_EQ(daemon_.Stop(SIGTERM), 0) << daemon_.Stderr();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(3)) << daemon_.Stderr();
}

TEST_F(HealthMetricsTest, SigintAlsoExitsCleanly) {
  Start();
  ASSERT_TRUE(OtlpGrpcClient(port("GRPC_PORT")).Export(MakeTraces()).ok());
  EXPECT_EQ(daemon_.Stop(SIGINT), 0) << daemon_.Stderr();
  EXPECT_EQ(CountFileItems(Signal::kTraces, daemon_.File(SinkFileName(Signal::kTraces))),
            static_cast<long>(CountItems(MakeTraces())));
}

TEST_F(HealthMetricsTest, LogsGoToStderr) {
  Start();
  EXPECT_EQ(daemon_.Stop(), 0);
  EXPECT_FALSE(daemon_.Stderr().empty()) << "the daemon logged nothing at info level";
}

}  // namespace
}  // namespace otlpd::testing
