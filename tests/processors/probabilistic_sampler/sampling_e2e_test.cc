// Two otlpd processes with the same configuration (rule_sampler -> probabilistic_sampler in
// one traces pipeline, adaptive_sampler in another, probabilistic_sampler on logs) get the
// same data over OTLP/gRPC: they must keep exactly the same items with the same
// tracestate, and exactly those the specification's rule gives for the configured
// probabilities; the adaptive sampler's ratio shows in the self-metrics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "processors/consistent_sampling/tracestate.h"
#include "processors/sampling_wire/sampling_test_util.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"

namespace otlpd::samplingtest {
namespace {

namespace cs = consistent_sampling;
using otlpd::testing::DaemonProcess;
using ::testing::HasSubstr;

constexpr char kConfig[] = R"yaml(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
processors:
  rule_sampler:
    default_sampling_percentage: 100
    rules:
      - {name: front, service_name: frontend, sampling_percentage: 50}
      - {name: noise, span_name: op4, drop: true}
  probabilistic_sampler:
    sampling_percentage: 50
  probabilistic_sampler/logs:
    sampling_percentage: 25
  adaptive_sampler:
    goal_spans_per_second: 1000
    adjustment_interval: 1h
    initial_sampling_percentage: 12.5
exporters:
  file/chain:
    path: {{DIR}}/chain.jsonl
  file/adaptive:
    path: {{DIR}}/adaptive.jsonl
  file/logs:
    path: {{DIR}}/logs.jsonl
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces/chain:
      receivers: [otlp]
      processors: [rule_sampler, probabilistic_sampler]
      exporters: [file/chain]
    traces/adaptive:
      receivers: [otlp]
      processors: [adaptive_sampler]
      exporters: [file/adaptive]
    logs:
      receivers: [otlp]
      processors: [probabilistic_sampler/logs]
      exporters: [file/logs]
)yaml";

// span id -> trace_state of every span in the file.
std::map<std::string, std::string> SpansIn(const std::string& path) {
  std::map<std::string, std::string> out;
  auto requests = testing::ReadTracesFile(path);
  EXPECT_TRUE(requests.ok()) << requests.status();
  if (!requests.ok()) return out;
  for (const auto& r : *requests) {
    for (const auto& rs : r.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) out[s.span_id()] = s.trace_state();
      }
    }
  }
  return out;
}

TEST(SamplingEndToEndTest, TwoDaemonsWithTheSameSettingsDecideIdentically) {
  std::mt19937_64 rng(2026);
  std::vector<TracesRequest> traces;
  for (int i = 0; i < 20; ++i) traces.push_back(MakeSpans(rng, {"frontend", "backend"}, 100));
  LogsRequest logs;
  auto* records = logs.add_resource_logs()->add_scope_logs()->mutable_log_records();
  for (int i = 0; i < 400; ++i) records->Add()->set_trace_id(RandomId(rng, 16));

  // What the specification gives: frontend spans at 1/2 * 1/2, backend at 1/2 but its op4
  // dropped;
  // the adaptive pipeline at its initial 1/8; logs at 1/4.
  std::map<std::string, std::string> chain_expected;
  std::map<std::string, std::string> adaptive_expected;
  for (const auto& r : traces) {
    for (const auto& rs : r.resource_spans()) {
      const bool frontend = rs.resource().attributes(0).value().string_value() == "frontend";
      for (const auto& s : rs.scope_spans(0).spans()) {
        const uint64_t randomness = cs::RandomnessFromTraceId(s.trace_id());
        const std::string th = frontend ? "c" : "8";
        // First match wins: frontend's op4 spans fall under "front", not "noise".
        const bool dropped = !frontend && s.name() == "op4";
        if (!dropped && randomness >= *cs::ParseThreshold(th)) {
          chain_expected[s.span_id()] = "ot=th:" + th;
        }
        if (randomness >= *cs::ParseThreshold("e")) adaptive_expected[s.span_id()] = "ot=th:e";
      }
    }
  }
  long logs_expected = 0;
  for (const auto& r : *records) {
    logs_expected += cs::RandomnessFromTraceId(r.trace_id()) >= *cs::ParseThreshold("c");
  }

  struct Run {
    std::unique_ptr<DaemonProcess> daemon;
    std::map<std::string, std::string> vars;
  };
  std::vector<Run> runs(2);
  for (int d = 0; d < 2; ++d) {
    runs[d].vars = testing::PortVars();
    runs[d].daemon = std::make_unique<DaemonProcess>("sampling-e2e-" + std::to_string(d));
    ASSERT_TRUE(runs[d].daemon->StartWithConfig(kConfig, runs[d].vars).ok());
  }
  for (Run& run : runs) {
    ASSERT_TRUE(run.daemon->WaitForPort(testing::PortOf(run.vars, "GRPC_PORT")))
        << run.daemon->Stderr();
    testing::OtlpGrpcClient client(testing::PortOf(run.vars, "GRPC_PORT"));
    for (const auto& r : traces) {
      grpc::Status status = client.Export(r);
      ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << run.daemon->Stderr();
    }
    grpc::Status status = client.Export(logs);
    ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << run.daemon->Stderr();
  }
  std::vector<std::map<std::string, std::string>> chain(2);
  std::vector<std::map<std::string, std::string>> adaptive(2);
  for (int d = 0; d < 2; ++d) {
    DaemonProcess& daemon = *runs[d].daemon;
    EXPECT_EQ(testing::WaitForItems(Signal::kTraces, daemon.File("chain.jsonl"),
                                    static_cast<long>(chain_expected.size())),
              static_cast<long>(chain_expected.size()))
        << daemon.Stderr();
    EXPECT_EQ(testing::WaitForItems(Signal::kTraces, daemon.File("adaptive.jsonl"),
                                    static_cast<long>(adaptive_expected.size())),
              static_cast<long>(adaptive_expected.size()))
        << daemon.Stderr();
    EXPECT_EQ(testing::WaitForItems(Signal::kLogs, daemon.File("logs.jsonl"), logs_expected),
              logs_expected);
    chain[d] = SpansIn(daemon.File("chain.jsonl"));
    adaptive[d] = SpansIn(daemon.File("adaptive.jsonl"));
    // The adaptive sampler's ratio per key, as scraped.
    testing::HttpResult metrics = testing::HttpGet(
        testing::LocalUrl(testing::PortOf(runs[d].vars, "METRICS_PORT"), "/metrics"));
    EXPECT_THAT(metrics.body, HasSubstr("otlpd_processor_adaptive_sampler_ratio{"));
    EXPECT_THAT(metrics.body, HasSubstr("key=\"frontend\""));
    EXPECT_THAT(metrics.body, HasSubstr("otlpd_processor_rule_sampler_spans{"));
  }
  EXPECT_EQ(chain[0], chain[1]);
  EXPECT_EQ(adaptive[0], adaptive[1]);
  EXPECT_EQ(chain[0], chain_expected);
  EXPECT_EQ(adaptive[0], adaptive_expected);
  EXPECT_GT(chain_expected.size(), 500u);  // not a vacuous comparison
  for (Run& run : runs) EXPECT_EQ(run.daemon->Stop(), 0) << run.daemon->Stderr();
}

TEST(SamplingEndToEndTest, ValidateReportsSamplerConfigErrorsWithTheirPlace) {
  testing::CommandResult r =
      testing::RunOtlpd({"validate", "--config", "{{DIR}}/bad.yaml"}, {{"bad.yaml", R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  probabilistic_sampler:
    sampling_percentage: -3
  rule_sampler:
    rules:
      - {name: a}
  adaptive_sampler:
    smoothing: 2
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [probabilistic_sampler, rule_sampler, adaptive_sampler]
      exporters: [nop]
)"}});
  EXPECT_NE(r.exit_status, 0);
  const std::string output = r.out + r.err;
  EXPECT_THAT(output, HasSubstr("processors::probabilistic_sampler::sampling_percentage"));
  EXPECT_THAT(output, HasSubstr("sampling rate is negative"));
  EXPECT_THAT(output, HasSubstr("processors::rule_sampler::rules[0]"));
  EXPECT_THAT(output, HasSubstr("processors::adaptive_sampler::smoothing"));
}

}  // namespace
}  // namespace otlpd::samplingtest
