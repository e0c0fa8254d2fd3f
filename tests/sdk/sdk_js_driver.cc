// sdk_js_test: the real OpenTelemetry JS SDK (tests/sdk/package.json, installed by the
// sdk_npm_install fixture) sends traces, metrics and logs through gRPC, HTTP/protobuf and
// HTTP/JSON to a real otlpd; each of the 9 combinations must arrive in the file exporter,
// and, in a second run, come back out of the tiered store through the query API.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"

namespace otlpd::testing {
namespace {

using opentelemetry::proto::common::v1::KeyValue;

const char* const kTransports[] = {"grpc", "http-protobuf", "http-json"};

const opentelemetry::proto::common::v1::AnyValue* Attribute(
    const google::protobuf::RepeatedPtrField<KeyValue>& attributes, const std::string& key) {
  for (const auto& kv : attributes) {
    if (kv.key() == key) return &kv.value();
  }
  return nullptr;
}

bool HasStringAttribute(const google::protobuf::RepeatedPtrField<KeyValue>& attributes,
                        const std::string& key, const std::string& value) {
  const auto* v = Attribute(attributes, key);
  return v != nullptr && v->string_value() == value;
}

std::string SdkDir() {
  if (const char* dir = getenv("OTLPD_SDK_DIR"); dir != nullptr && *dir) return dir;
  if (const char* dir = getenv("OTLPD_BUILD_DIR"); dir != nullptr && *dir) {
    return absl::StrCat(dir, "/sdk");
  }
  return "";
}

TEST(SdkJsTest, AllNineSignalTransportCombinationsArrive) {
  const std::string node = FindProgram("node");
  ASSERT_FALSE(node.empty()) << "node not found in PATH: the SDK test needs Node.js";
  const std::string sdk_dir = SdkDir();
  const std::string script = sdk_dir + "/send_all.js";
  ASSERT_TRUE(std::filesystem::exists(script)) << script << " missing: run sdk_npm_install";
  ASSERT_TRUE(std::filesystem::exists(sdk_dir + "/node_modules/@opentelemetry/sdk-trace-base"))
      << "node_modules missing in " << sdk_dir << ": run sdk_npm_install";

  auto vars = PortVars();
  DaemonProcess daemon("sdk-otlpd");
  ASSERT_TRUE(daemon.StartWithConfig(FileSinkConfig(), vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();

  DaemonProcess sdk("sdk-node");
  ASSERT_TRUE(sdk.StartProgram(node, {script, vars["GRPC_PORT"], vars["HTTP_PORT"]},
                               {{"NODE_PATH", sdk_dir + "/node_modules"},
                                {"OTEL_LOG_LEVEL", "info"},
                                {"NO_PROXY", "*"},
                                {"no_proxy", "*"}})
                  .ok());
  const int node_exit = sdk.WaitExit(absl::Seconds(180));
  ASSERT_EQ(node_exit, 0) << "send_all.js failed\nstdout:\n"
                          << sdk.Stdout() << "\nstderr:\n"
                          << sdk.Stderr() << "\notlpd:\n"
                          << daemon.Stderr();
  std::printf("send_all.js: %s\n", sdk.Stdout().c_str());

  // The daemon flushes its files on SIGTERM, so stop it before reading.
  ASSERT_EQ(daemon.Stop(), 0) << daemon.Stderr();

  auto traces = ReadTracesFile(daemon.File(SinkFileName(Signal::kTraces)));
  auto metrics = ReadMetricsFile(daemon.File(SinkFileName(Signal::kMetrics)));
  auto logs = ReadLogsFile(daemon.File(SinkFileName(Signal::kLogs)));
  ASSERT_TRUE(traces.ok()) << traces.status();
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  ASSERT_TRUE(logs.ok()) << logs.status();

  for (const std::string transport : kTransports) {
    SCOPED_TRACE(transport);
    // Traces: exactly one span from this combination, with what the script set.
    int spans = 0;
    for (const auto& req : *traces) {
      for (const auto& rs : req.resource_spans()) {
        if (ResourceAttribute(rs.resource(), "service.name") != "otlpd-sdk-traces-" + transport) {
          continue;
        }
        EXPECT_EQ(ResourceAttribute(rs.resource(), "otlpd.test.combo"), "traces/" + transport);
        for (const auto& ss : rs.scope_spans()) {
          EXPECT_EQ(ss.scope().name(), "otlpd-sdk-test");
          for (const auto& span : ss.spans()) {
            ++spans;
            EXPECT_EQ(span.name(), "span-" + transport);
            EXPECT_EQ(span.trace_id().size(), 16u);
            EXPECT_EQ(span.span_id().size(), 8u);
            EXPECT_GT(span.end_time_unix_nano(), 0u);
            EXPECT_GE(span.end_time_unix_nano(), span.start_time_unix_nano());
            EXPECT_TRUE(
                HasStringAttribute(span.attributes(), "otlpd.test.combo", "traces/" + transport));
            const auto* number = Attribute(span.attributes(), "otlpd.test.number");
            ASSERT_NE(number, nullptr);
            EXPECT_TRUE(number->int_value() == 42 || number->double_value() == 42.0)
                << number->DebugString();
            ASSERT_EQ(span.events_size(), 1);
            EXPECT_EQ(span.events(0).name(), "event-" + transport);
          }
        }
      }
    }
    EXPECT_EQ(spans, 1) << "traces/" << transport;

    // Metrics: the counter (7) and the histogram (one 12.5), possibly exported again at
    // shutdown with the same cumulative values.
    int counters = 0, histograms = 0;
    for (const auto& req : *metrics) {
      for (const auto& rm : req.resource_metrics()) {
        if (ResourceAttribute(rm.resource(), "service.name") != "otlpd-sdk-metrics-" + transport) {
          continue;
        }
        for (const auto& sm : rm.scope_metrics()) {
          for (const auto& m : sm.metrics()) {
            if (m.name() == "otlpd.sdk.counter." + transport) {
              ASSERT_TRUE(m.has_sum()) << m.DebugString();
              EXPECT_TRUE(m.sum().is_monotonic());
              ASSERT_EQ(m.sum().data_points_size(), 1);
              const auto& p = m.sum().data_points(0);
              EXPECT_TRUE(p.as_double() == 7.0 || p.as_int() == 7) << p.DebugString();
              EXPECT_TRUE(
                  HasStringAttribute(p.attributes(), "otlpd.test.combo", "metrics/" + transport));
              ++counters;
            } else if (m.name() == "otlpd.sdk.histogram." + transport) {
              ASSERT_TRUE(m.has_histogram()) << m.DebugString();
              ASSERT_EQ(m.histogram().data_points_size(), 1);
              EXPECT_EQ(m.histogram().data_points(0).count(), 1u);
              EXPECT_EQ(m.histogram().data_points(0).sum(), 12.5);
              ++histograms;
            }
          }
        }
      }
    }
    EXPECT_GE(counters, 1) << "metrics/" << transport;
    EXPECT_GE(histograms, 1) << "metrics/" << transport;
    EXPECT_EQ(counters, histograms);

    // Logs: exactly one record.
    int records = 0;
    for (const auto& req : *logs) {
      for (const auto& rl : req.resource_logs()) {
        if (ResourceAttribute(rl.resource(), "service.name") != "otlpd-sdk-logs-" + transport) {
          continue;
        }
        for (const auto& sl : rl.scope_logs()) {
          for (const auto& rec : sl.log_records()) {
            ++records;
            EXPECT_EQ(rec.body().string_value(), "log-" + transport);
            EXPECT_EQ(rec.severity_number(), opentelemetry::proto::logs::v1::SEVERITY_NUMBER_WARN);
            EXPECT_EQ(rec.severity_text(), "WARN");
            EXPECT_TRUE(
                HasStringAttribute(rec.attributes(), "otlpd.test.combo", "logs/" + transport));
          }
        }
      }
    }
    EXPECT_EQ(records, 1) << "logs/" << transport;
  }
}

constexpr char kStoreConfig[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
exporters:
  tiered_storage:
    directory: {{DIR}}/store
extensions:
  query:
    endpoint: 127.0.0.1:{{QUERY_PORT}}
service:
  extensions: [query]
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces: {receivers: [otlp], exporters: [tiered_storage]}
    metrics: {receivers: [otlp], exporters: [tiered_storage]}
    logs: {receivers: [otlp], exporters: [tiered_storage]}
)";

// The same 9 combinations into the tiered store, read back through the query API as Jaeger
// UI and our logs/metrics API see them.
TEST(SdkJsTest, AllSignalsThroughTheStoreAndBackOutOfTheQueryApi) {
  const std::string node = FindProgram("node");
  ASSERT_FALSE(node.empty()) << "node not found in PATH: the SDK test needs Node.js";
  const std::string sdk_dir = SdkDir();
  const std::string script = sdk_dir + "/send_all.js";
  ASSERT_TRUE(std::filesystem::exists(script)) << script << " missing: run sdk_npm_install";

  auto vars = PortVars({"QUERY_PORT"});
  DaemonProcess daemon("sdk-store");
  ASSERT_TRUE(daemon.StartWithConfig(kStoreConfig, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "QUERY_PORT"))) << daemon.Stderr();
  DaemonProcess sdk("sdk-node");
  ASSERT_TRUE(
      sdk.StartProgram(
             node, {script, vars["GRPC_PORT"], vars["HTTP_PORT"]},
             {{"NODE_PATH", sdk_dir + "/node_modules"}, {"NO_PROXY", "*"}, {"no_proxy", "*"}})
          .ok());
  ASSERT_EQ(sdk.WaitExit(absl::Seconds(180)), 0) << sdk.Stderr() << "\notlpd:\n" << daemon.Stderr();

  const int port = PortOf(vars, "QUERY_PORT");
  const std::string all_time =
      absl::StrCat("&start=0&end=", absl::ToUnixSeconds(absl::Now()) + 3600);
  HttpResult services = HttpGet(LocalUrl(port, "/api/services"));
  ASSERT_EQ(services.status, 200);
  for (const std::string transport : kTransports) {
    SCOPED_TRACE(transport);
    const std::string service = "otlpd-sdk-traces-" + transport;
    EXPECT_NE(services.body.find("\"" + service + "\""), std::string::npos) << services.body;
    HttpResult traces =
        HttpGet(LocalUrl(port, "/api/traces?service=" + service + "&lookback=1h&limit=10"));
    ASSERT_EQ(traces.status, 200) << traces.body;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(traces.body).get(doc), simdjson::SUCCESS);
    simdjson::dom::array data;
    ASSERT_EQ(doc["data"].get(data), simdjson::SUCCESS);
    ASSERT_EQ(data.size(), 1u) << traces.body;
    std::string_view name;
    ASSERT_EQ(data.at(0)["spans"].at(0)["operationName"].get(name), simdjson::SUCCESS);
    EXPECT_EQ(name, "span-" + transport);
    EXPECT_NE(traces.body.find("\"otlpd.test.number\""), std::string::npos);
    EXPECT_NE(traces.body.find("event-" + transport), std::string::npos);  // the span's log

    HttpResult logs =
        HttpGet(LocalUrl(port, "/api/v1/logs?service=otlpd-sdk-logs-" + transport + all_time));
    ASSERT_EQ(logs.status, 200) << logs.body;
    ASSERT_EQ(parser.parse(logs.body).get(doc), simdjson::SUCCESS);
    ASSERT_EQ(doc["data"].get(data), simdjson::SUCCESS);
    ASSERT_EQ(data.size(), 1u) << logs.body;
    EXPECT_NE(logs.body.find("log-" + transport), std::string::npos);

    HttpResult counter =
        HttpGet(LocalUrl(port, "/api/v1/metrics?name=otlpd.sdk.counter." + transport + all_time));
    ASSERT_EQ(counter.status, 200) << counter.body;
    ASSERT_EQ(parser.parse(counter.body).get(doc), simdjson::SUCCESS);
    simdjson::dom::array series;
    ASSERT_EQ(doc["data"]["series"].get(series), simdjson::SUCCESS) << counter.body;
    EXPECT_EQ(series.size(), 1u) << counter.body;
  }
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

}  // namespace
}  // namespace otlpd::testing
