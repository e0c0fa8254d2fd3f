#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/config_node.h"
#include "core/metrics.h"
#include "core/otlp_json.h"
#include "exporters/debug/config.h"
#include "exporters/debug/factory.h"
#include "testing/otlp_data.h"
#include "testing/test_host.h"

namespace otlpd {
namespace {

// Sends spdlog's default logger into a string for the life of the object.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("debug-exporter-test", sink);
    logger->set_pattern("%l|%v");
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() {
    spdlog::default_logger()->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

using otlpd::testing::TestHost;

std::unique_ptr<Exporter> MakeExporter(const std::string& yaml, Host* host = nullptr) {
  Diagnostics diag;
  ConfigNode node(YAML::Load(yaml), "exporters::debug", &diag);
  auto config = NewDebugExporterFactory()->ParseConfig(node);
  node.ReportUnknownKeys();
  EXPECT_TRUE(diag.ok()) << diag.Format();
  auto exporter = NewDebugExporterFactory()->Create(CreateSettings{{"debug", ""}, host}, *config);
  EXPECT_TRUE(exporter.ok()) << exporter.status();
  EXPECT_TRUE((*exporter)->Start().ok());
  return std::move(*exporter);
}

TelemetryPtr Wrap(Signal signal, const google::protobuf::Message& m) {
  auto t = std::make_shared<Telemetry>(signal);
  t->mutable_message()->CopyFrom(m);
  return t;
}

void Export(Exporter& exporter, TelemetryPtr data) {
  bool ok = false;
  exporter.Consume(std::move(data), [&](absl::Status s) { ok = s.ok(); });
  EXPECT_TRUE(ok);
}

TEST(DebugExporterTest, BasicLogsOneSummaryLinePerRequest) {
  CapturedLog log;
  TestHost host;
  auto exporter = MakeExporter("{}", &host);
  TracesRequest traces = testing::MakeTraces({.resources = 2, .items_per_scope = 5});
  MetricsRequest metrics = testing::MakeMetrics({.items_per_scope = 2});
  LogsRequest logs = testing::MakeLogs({.items_per_scope = 4});
  Export(*exporter, Wrap(Signal::kTraces, traces));
  Export(*exporter, Wrap(Signal::kMetrics, metrics));
  Export(*exporter, Wrap(Signal::kLogs, logs));
  std::vector<std::string> lines = absl::StrSplit(log.text(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << log.text();
  EXPECT_EQ(lines[0],
            "info|Traces\t{\"otelcol.component.id\": \"debug\", \"resource spans\": 2, "
            "\"spans\": 10}");
  size_t metric_count = 0;
  for (const auto& rm : metrics.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) metric_count += sm.metrics_size();
  }
  EXPECT_EQ(lines[1], absl::StrCat("info|Metrics\t{\"otelcol.component.id\": \"debug\", "
                                   "\"resource metrics\": 1, \"metrics\": ",
                                   metric_count, ", \"data points\": ", CountItems(metrics), "}"));
  EXPECT_EQ(lines[2],
            "info|Logs\t{\"otelcol.component.id\": \"debug\", \"resource logs\": 1, "
            "\"log records\": 4}");
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_spans", "debug"), 10u);
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_metric_points", "debug"), CountItems(metrics));
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_log_records", "debug"), 4u);
  EXPECT_EQ(host.Counter("otelcol_exporter_send_failed_spans", "debug"), 0u);
}

TEST(DebugExporterTest, NormalLogsALinePerItem) {
  CapturedLog log;
  auto exporter = MakeExporter("verbosity: normal");
  TracesRequest traces = testing::MakeTraces({.items_per_scope = 4, .rich = false});
  Export(*exporter, Wrap(Signal::kTraces, traces));
  const std::string text = log.text();
  for (const auto& span : traces.resource_spans(0).scope_spans(0).spans()) {
    // name, trace id and span id on one line.
    std::string expected = absl::StrCat(span.name(), " ", testing::HexId(span.trace_id()), " ",
                                        testing::HexId(span.span_id()));
    EXPECT_TRUE(absl::StrContains(text, "\n" + expected)) << expected << "\n" << text;
  }
  EXPECT_TRUE(absl::StrContains(text, "ResourceSpans #0")) << text;
  EXPECT_TRUE(absl::StrContains(text, "ScopeSpans #0")) << text;

  MetricsRequest metrics = testing::MakeMetrics({.items_per_scope = 2, .rich = false});
  Export(*exporter, Wrap(Signal::kMetrics, metrics));
  const std::string metric_text = log.text().substr(text.size());
  std::vector<std::string> lines = absl::StrSplit(metric_text, '\n', absl::SkipEmpty());
  // Summary, resource, scope, then one line per data point.
  EXPECT_EQ(lines.size(), 3 + CountItems(metrics)) << metric_text;
  for (const auto& m : metrics.resource_metrics(0).scope_metrics(0).metrics()) {
    EXPECT_TRUE(absl::StrContains(metric_text, "\n" + m.name() + "{")) << m.name();
  }

  LogsRequest logs = testing::MakeLogs({.items_per_scope = 3, .rich = false});
  const size_t before = log.text().size();
  Export(*exporter, Wrap(Signal::kLogs, logs));
  std::vector<std::string> log_lines =
      absl::StrSplit(log.text().substr(before), '\n', absl::SkipEmpty());
  EXPECT_EQ(log_lines.size(), 3u + 3u);
}

TEST(DebugExporterTest, DetailedLogsTheWholeRequestAsOtlpJson) {
  CapturedLog log;
  auto exporter = MakeExporter("verbosity: detailed");
  LogsRequest logs = testing::MakeLogs({.seed = 9});
  Export(*exporter, Wrap(Signal::kLogs, logs));
  std::string text = log.text();
  size_t newline = text.find('\n');
  ASSERT_NE(newline, std::string::npos);
  EXPECT_TRUE(absl::StartsWith(text, "info|Logs\t{")) << text;
  std::string json = text.substr(newline + 1);
  while (!json.empty() && json.back() == '\n') json.pop_back();
  LogsRequest back;
  ASSERT_TRUE(DecodeOtlpJson(json, &back).ok()) << json;
  EXPECT_EQ(testing::ProtoDiff(logs, back), "");
}

TEST(DebugExporterTest, SamplesAfterTheInitialRequestsOfASecond) {
  CapturedLog log;
  TestHost host;
  auto exporter = MakeExporter("sampling_initial: 2\nsampling_thereafter: 3", &host);
  TelemetryPtr data = Wrap(Signal::kTraces, testing::MakeTraces());
  // Stay inside one one-second window.
  for (int attempt = 0; attempt < 5; ++attempt) {
    const absl::Time now = absl::Now();
    const absl::Duration into_second = now - absl::FromUnixSeconds(absl::ToUnixSeconds(now));
    if (into_second < absl::Milliseconds(700)) break;
    absl::SleepFor(absl::Seconds(1) - into_second + absl::Milliseconds(5));
  }
  for (int i = 0; i < 11; ++i) Export(*exporter, data);
  std::vector<std::string> lines = absl::StrSplit(log.text(), '\n', absl::SkipEmpty());
  // Requests 1, 2, then every third: 5, 8, 11.
  EXPECT_EQ(lines.size(), 5u) << log.text();
  // Sampled out or not, every request was handled: all count as sent.
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_spans", "debug"), 11 * data->ItemCount());
}

TEST(DebugExporterTest, ConfigValidation) {
  auto errors = [](const std::string& yaml) {
    Diagnostics diag;
    ConfigNode node(YAML::Load(yaml), "exporters::debug", &diag);
    NewDebugExporterFactory()->ParseConfig(node);
    node.ReportUnknownKeys();
    return diag.Format();
  };
  EXPECT_EQ(errors("verbosity: detailed\nsampling_initial: 5\nsampling_thereafter: 200"), "");
  EXPECT_NE(errors("verbosity: loud").find("verbosity"), std::string::npos);
  EXPECT_NE(errors("sampling_initial: -1").find("sampling_initial"), std::string::npos);
  EXPECT_NE(errors("loglevel: debug").find("loglevel"), std::string::npos);
}

}  // namespace
}  // namespace otlpd
