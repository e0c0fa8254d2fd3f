// service.telemetry.logs: encoding (json like otelcol's zap production encoder, or console)
// and level, seen on the daemon's stderr.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/otlp_data.h"

namespace otlpd::testing {
namespace {

struct LogLine {
  std::string level, ts, msg;
};

// The daemon's config with `logs` (indented by six) as service.telemetry.logs.
std::string ConfigWithLogs(std::string_view logs) {
  return absl::StrReplaceAll(FileSinkConfig(), {{"      level: info\n", std::string(logs)}});
}

std::vector<std::string> StderrLines(const DaemonProcess& daemon) {
  std::vector<std::string> lines = absl::StrSplit(daemon.Stderr(), '\n', absl::SkipEmpty());
  return lines;
}

// Runs the daemon with `config` (its config file named `config_name`), sends it a request
// and stops it; returns its stderr lines.
std::vector<std::string> RunDaemon(const std::string& config, const std::string& config_name,
                                   std::string* config_path = nullptr, const EnvVars& env = {}) {
  DaemonProcess daemon("log-encoding");
  std::map<std::string, std::string> vars = PortVars();
  const std::string path = daemon.WriteConfig(config, vars, config_name);
  if (config_path != nullptr) *config_path = path;
  EXPECT_TRUE(daemon.Start({"--config", path}, env).ok());
  EXPECT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  OtlpGrpcClient client(PortOf(vars, "GRPC_PORT"));
  EXPECT_TRUE(client.Export(MakeTraces()).ok());
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
  return StderrLines(daemon);
}

TEST(LogEncodingTest, JsonWritesOneZapStyleObjectPerLine) {
  std::string config_path;
  // A config path with a quote and a backslash: the startup message must escape them.
  std::vector<std::string> lines =
      RunDaemon(ConfigWithLogs("      level: debug\n      encoding: json\n"),
                "config \"json\" \\ logs.yaml", &config_path,
                // gRPC's own (debug) log lines must come out as JSON too.
                {{"GRPC_VERBOSITY", "DEBUG"}});
  ASSERT_GE(lines.size(), 3u);
  const std::regex ts(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  const std::set<std::string> levels = {"debug", "info", "warn", "error"};
  simdjson::dom::parser parser;
  std::vector<LogLine> parsed;
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    simdjson::dom::object object;
    ASSERT_EQ(parser.parse(simdjson::padded_string(line)).get(object), simdjson::SUCCESS);
    LogLine l;
    std::string_view level, time, msg;
    ASSERT_EQ(object["level"].get(level), simdjson::SUCCESS);
    ASSERT_EQ(object["ts"].get(time), simdjson::SUCCESS);
    ASSERT_EQ(object["msg"].get(msg), simdjson::SUCCESS);
    EXPECT_EQ(levels.count(std::string(level)), 1u);
    EXPECT_TRUE(std::regex_match(std::string(time), ts));
    EXPECT_FALSE(msg.empty());
    parsed.push_back(LogLine{std::string(level), std::string(time), std::string(msg)});
  }
  bool running = false, grpc = false;
  for (const LogLine& l : parsed) {
    running = running || (l.level == "info" && l.msg.find("running") != std::string::npos &&
                          l.msg.find(config_path) != std::string::npos);
    grpc = grpc || l.msg.starts_with("grpc: ");
  }
  EXPECT_TRUE(running) << "no startup line naming " << config_path;
  EXPECT_TRUE(grpc) << "no line from gRPC";
  EXPECT_TRUE(std::any_of(parsed.begin(), parsed.end(),
                          [](const LogLine& l) { return l.msg == "shutdown complete"; }));
}

TEST(LogEncodingTest, LevelStillFiltersJsonLines) {
  std::vector<std::string> lines =
      RunDaemon(ConfigWithLogs("      level: warn\n      encoding: json\n"), "config.yaml");
  for (const std::string& line : lines) {
    EXPECT_TRUE(line.starts_with("{\"level\":\"warn\"") || line.starts_with("{\"level\":\"error\""))
        << line;
  }
}

TEST(LogEncodingTest, ConsoleIsTheDefault) {
  std::vector<std::string> lines = RunDaemon(FileSinkConfig(), "config.yaml");
  ASSERT_FALSE(lines.empty());
  const std::regex console(
      R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (debug|info|warning|error) .+)");
  for (const std::string& line : lines) EXPECT_TRUE(std::regex_match(line, console)) << line;
  EXPECT_EQ(lines.back().substr(lines.back().size() - 17), "shutdown complete");
}

}  // namespace
}  // namespace otlpd::testing
