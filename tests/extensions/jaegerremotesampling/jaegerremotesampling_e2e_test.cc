// jaegerremotesampling in the real daemon: served from a strategies file, computed
// adaptively from the traces a traffic_observer processor sees (sent with a real OTLP/gRPC
// client), and config errors (bad file, source.remote) refusing the start.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/wait.h"

namespace otlpd::testing {
namespace {

constexpr char kConfig[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
processors:
  traffic_observer:
    extension: jaegerremotesampling
exporters:
  nop:
extensions:
  jaegerremotesampling:
    http:
      endpoint: 127.0.0.1:{{SAMPLING_PORT}}
    source:
SOURCE
service:
  extensions: [jaegerremotesampling]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [traffic_observer]
      exporters: [nop]
)";

std::string ConfigWithSource(std::string_view source) {
  std::string yaml = kConfig;
  yaml.replace(yaml.find("SOURCE"), 6, source);
  return yaml;
}

// operationSampling.perOperationStrategies[operation == op].probabilisticSampling
// .samplingRate; -1 when absent.
double OperationProbability(const std::string& body, std::string_view op) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return -1;
  simdjson::dom::array ops;
  if (doc["operationSampling"]["perOperationStrategies"].get(ops) != simdjson::SUCCESS) return -1;
  for (simdjson::dom::element entry : ops) {
    std::string_view name;
    double p;
    if (entry["operation"].get(name) == simdjson::SUCCESS && name == op &&
        entry["probabilisticSampling"]["samplingRate"].get(p) == simdjson::SUCCESS) {
      return p;
    }
  }
  return -1;
}

TracesRequest RootSpans(const std::string& service, const std::string& name, int count, int seed) {
  TracesRequest request;
  auto* rs = request.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(service);
  auto* ss = rs->add_scope_spans();
  for (int i = 0; i < count; ++i) {
    auto* span = ss->add_spans();
    span->set_trace_id(
        absl::StrCat(std::string(8, 't'), seed * 100000 + i, "xxxxxxxx").substr(0, 16));
    span->set_span_id(std::string(8, 's'));
    span->set_name(name);
    span->set_start_time_unix_nano(1);
    span->set_end_time_unix_nano(2);
    // Child spans do not start traces: they must not count.
    auto* child = ss->add_spans();
    *child = *span;
    child->set_span_id(std::string(8, 'c'));
    child->set_parent_span_id(std::string(8, 's'));
    child->set_name("child");
  }
  return request;
}

TEST(JaegerRemoteSamplingE2eTest, AdaptiveProbabilitiesFollowTheTrafficThePipelineSees) {
  auto vars = PortVars({"SAMPLING_PORT"});
  DaemonProcess daemon("jrs-adaptive");
  ASSERT_TRUE(daemon
                  .StartWithConfig(ConfigWithSource("      adaptive:\n"
                                                    "        target_traces_per_second: 2\n"
                                                    "        initial_sampling_probability: 1\n"
                                                    "        calculation_interval: 200ms\n"),
                                   vars)
                  .ok());
  const int sampling_port = PortOf(vars, "SAMPLING_PORT");
  ASSERT_TRUE(daemon.WaitForPort(sampling_port)) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  const std::string url = LocalUrl(sampling_port, "/sampling?service=shop");
  HttpClient http;
  // Nothing seen yet: the initial probability, no operations.
  EXPECT_EQ(OperationProbability(http.Get(url).body, "checkout"), -1);

  // ~2000 traces/s of shop/checkout, kept at p=1: far above the 2/s target.
  OtlpGrpcClient client(PortOf(vars, "GRPC_PORT"));
  double p = -1;
  const bool converged = WaitUntil(
      [&] {
        static int seed = 0;
        EXPECT_TRUE(client.Export(RootSpans("shop", "checkout", 40, ++seed)).ok());
        p = OperationProbability(http.Get(url).body, "checkout");
        return p > 0 && p < 0.01;
      },
      absl::Seconds(15));
  EXPECT_TRUE(converged) << "checkout's probability stayed at " << p << "\n" << daemon.Stderr();
  // The child spans were not traces: no "child" operation.
  EXPECT_EQ(OperationProbability(http.Get(url).body, "child"), -1);
  // Another service is untouched.
  EXPECT_EQ(
      http.Get(LocalUrl(sampling_port, "/sampling?service=other")).body,
      R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":1},)"
      R"("operationSampling":{"defaultSamplingProbability":1,"defaultLowerBoundTracesPerSecond":0,)"
      R"("perOperationStrategies":[]}})");
  EXPECT_EQ(http.Get(LocalUrl(sampling_port, "/sampling")).status, 400);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

TEST(JaegerRemoteSamplingE2eTest, ServesAStrategiesFile) {
  auto vars = PortVars({"SAMPLING_PORT"});
  DaemonProcess daemon("jrs-file");
  daemon.dir().Write("strategies.json",
                     R"({"default_strategy": {"type": "probabilistic", "param": 0.5},
                         "service_strategies": [{"service": "shop", "type": "ratelimiting",
                                                 "param": 7}]})");
  ASSERT_TRUE(
      daemon.StartWithConfig(ConfigWithSource("      file: {{DIR}}/strategies.json\n"), vars).ok());
  const int port = PortOf(vars, "SAMPLING_PORT");
  ASSERT_TRUE(daemon.WaitForPort(port)) << daemon.Stderr();
  HttpResult shop = HttpGet(LocalUrl(port, "/sampling?service=shop"));
  EXPECT_EQ(shop.status, 200);
  EXPECT_EQ(shop.body,
            R"({"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":7}})");
  EXPECT_EQ(HttpGet(LocalUrl(port, "/api/sampling?service=x")).body,
            R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.5}})");
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

TEST(JaegerRemoteSamplingE2eTest, ABadFileOrARemoteSourceRefusesToStart) {
  auto vars = PortVars({"SAMPLING_PORT"});
  DaemonProcess daemon("jrs-bad-file");
  daemon.dir().Write("strategies.json", R"({"default_strategy": {"type": "sometimes"}})");
  ASSERT_TRUE(
      daemon.StartWithConfig(ConfigWithSource("      file: {{DIR}}/strategies.json\n"), vars).ok());
  EXPECT_NE(daemon.WaitExit(absl::Seconds(20)), 0);
  EXPECT_NE(daemon.Stderr().find("jaegerremotesampling: source::file: "), std::string::npos)
      << daemon.Stderr();

  CommandResult remote = RunOtlpd(
      {"validate", "--config", "{{DIR}}/c.yaml"},
      {{"c.yaml",
        Substitute(ConfigWithSource("      remote:\n        endpoint: jaeger:14250\n"), vars)}});
  EXPECT_EQ(remote.exit_status, 2) << remote.err;
  EXPECT_NE(remote.err.find("extensions::jaegerremotesampling::source::remote: source.remote "
                            "(a Jaeger gRPC sampling endpoint) is not supported"),
            std::string::npos)
      << remote.err;
}

}  // namespace
}  // namespace otlpd::testing
