// sdk_jaeger_sampler_test: the JS SDK's JaegerRemoteSampler (tests/sdk/jaeger_sampler.js)
// fetches strategies from a real otlpd's jaegerremotesampling extension and applies them;
// what it kept arrives in the daemon's file exporter: nothing for a service at probability
// 0, everything at 1, and only the operation given probability 1 for a per-operation
// strategy whose default is 0. Each sampler starts with the opposite sampler, so a strategy
// that was not fetched or not understood shows.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/otlp_data.h"

namespace otlpd::testing {
namespace {

constexpr char kStrategies[] = R"({
  "default_strategy": {"type": "probabilistic", "param": 1},
  "service_strategies": [
    {"service": "js-sampled-none", "type": "probabilistic", "param": 0},
    {"service": "js-sampled-all", "type": "probabilistic", "param": 1},
    {"service": "js-per-operation", "type": "probabilistic", "param": 0,
     "operation_strategies": [{"operation": "keep", "type": "probabilistic", "param": 1}]}
  ]
})";

constexpr char kConfig[] = R"(receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
exporters:
  file:
    path: {{DIR}}/traces.jsonl
extensions:
  jaegerremotesampling:
    http:
      endpoint: 127.0.0.1:{{SAMPLING_PORT}}
    source:
      file: {{DIR}}/strategies.json
service:
  extensions: [jaegerremotesampling]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
)";

std::string SdkDir() {
  if (const char* dir = getenv("OTLPD_SDK_DIR"); dir != nullptr && *dir) return dir;
  if (const char* dir = getenv("OTLPD_BUILD_DIR"); dir != nullptr && *dir) {
    return absl::StrCat(dir, "/sdk");
  }
  return "";
}

TEST(SdkJaegerSamplerTest, JsSamplerAppliesTheDaemonsStrategies) {
  const std::string node = FindProgram("node");
  ASSERT_FALSE(node.empty()) << "node not found in PATH: the SDK test needs Node.js";
  const std::string sdk_dir = SdkDir();
  const std::string script = sdk_dir + "/jaeger_sampler.js";
  ASSERT_TRUE(std::filesystem::exists(script)) << script << " missing: run sdk_npm_install";
  ASSERT_TRUE(
      std::filesystem::exists(sdk_dir + "/node_modules/@opentelemetry/sampler-jaeger-remote"))
      << "node_modules missing in " << sdk_dir << ": run sdk_npm_install";

  auto vars = PortVars({"SAMPLING_PORT"});
  DaemonProcess daemon("sdk-jaeger-otlpd");
  daemon.dir().Write("strategies.json", kStrategies);
  ASSERT_TRUE(daemon.StartWithConfig(kConfig, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "SAMPLING_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();

  DaemonProcess sdk("sdk-jaeger-node");
  ASSERT_TRUE(
      sdk.StartProgram(
             node, {script, vars["SAMPLING_PORT"], vars["HTTP_PORT"]},
             {{"NODE_PATH", sdk_dir + "/node_modules"}, {"NO_PROXY", "*"}, {"no_proxy", "*"}})
          .ok());
  const int node_exit = sdk.WaitExit(absl::Seconds(120));
  ASSERT_EQ(node_exit, 0) << "jaeger_sampler.js failed\nstdout:\n"
                          << sdk.Stdout() << "\nstderr:\n"
                          << sdk.Stderr() << "\notlpd:\n"
                          << daemon.Stderr();
  std::printf("jaeger_sampler.js: %s\n", sdk.Stdout().c_str());
  ASSERT_EQ(daemon.Stop(), 0) << daemon.Stderr();  // flushes the file

  auto traces = ReadTracesFile(daemon.File("traces.jsonl"));
  ASSERT_TRUE(traces.ok()) << traces.status();
  std::map<std::string, std::map<std::string, int>> spans;  // service -> name -> count
  for (const auto& request : *traces) {
    for (const auto& rs : request.resource_spans()) {
      const std::string service = ResourceAttribute(rs.resource(), "service.name");
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) ++spans[service][span.name()];
      }
    }
  }
  EXPECT_EQ(spans.count("js-sampled-none"), 0u);
  EXPECT_EQ(spans["js-sampled-all"], (std::map<std::string, int>{{"drop", 10}, {"keep", 10}}));
  EXPECT_EQ(spans["js-per-operation"], (std::map<std::string, int>{{"keep", 10}}));
}

}  // namespace
}  // namespace otlpd::testing
