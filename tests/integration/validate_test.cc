// `otlpd validate`, config errors at startup, --version and ${env:...} expansion, all through
// the real binary.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"
#include "testing/ports.h"

namespace otlpd::testing {
namespace {

using ::testing::HasSubstr;

constexpr int kConfigErrorExit = 2;

// True if `err` points at line `line` of `file`: "file:LINE:" or "line LINE".
bool MentionsLine(const std::string& err, const std::string& file, int line) {
  return err.find(absl::StrCat(file, ":", line, ":")) != std::string::npos ||
         err.find(absl::StrCat("line ", line)) != std::string::npos;
}

CommandResult Validate(const std::string& yaml, const EnvVars& env = {}) {
  return RunOtlpd({"validate", "--config", "{{DIR}}/bad.yaml"}, {{"bad.yaml", yaml}}, env);
}

// Holds a listening socket on a port so that a daemon that binds it would fail.
class PortHolder {
 public:
  PortHolder() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 1);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~PortHolder() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(ValidateTest, GoodConfigExitsZeroWithoutBindingOrWriting) {
  // validate must only parse: the ports in the config are taken by this test, and the file
  // exporter's output must not be created.
  PortHolder grpc, http, health, metrics;
  std::map<std::string, std::string> vars = {{"GRPC_PORT", absl::StrCat(grpc.port())},
                                             {"HTTP_PORT", absl::StrCat(http.port())},
                                             {"HEALTH_PORT", absl::StrCat(health.port())},
                                             {"METRICS_PORT", absl::StrCat(metrics.port())}};
  DaemonProcess validate("validate-good");
  std::string config = validate.WriteConfig(FileSinkConfig("[memory_limiter, batch]", R"(  batch:
    send_batch_size: 512
    timeout: 1s
  memory_limiter:
    check_interval: 1s
    limit_mib: 400
    spike_limit_mib: 50
)"),
                                            vars);
  ASSERT_TRUE(validate.Start({"validate", "--config", config}).ok());
  EXPECT_EQ(validate.WaitExit(), 0) << validate.Stderr();
  for (Signal s : kAllSignals) {
    EXPECT_FALSE(std::filesystem::exists(validate.File(SinkFileName(s)))) << SinkFileName(s);
  }
}

TEST(ValidateTest, EveryComponentKindAndOptionIsAccepted) {
  const std::string yaml = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
      http:
        endpoint: 127.0.0.1:4318
  otlp/second:
    protocols:
      grpc:
processors:
  batch:
    send_batch_size: 1000
    timeout: 200ms
  memory_limiter:
    check_interval: 1s
    limit_mib: 512
    spike_limit_mib: 128
exporters:
  otlp:
    endpoint: 127.0.0.1:14317
    tls:
      insecure: true
    compression: gzip
    sending_queue:
      enabled: true
      queue_size: 100
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 10s
  otlphttp:
    endpoint: http://127.0.0.1:14318
    encoding: json
    compression: none
    retry_on_failure:
      initial_interval: 1s
  file:
    path: /tmp/otlpd-validate-never-written.jsonl
  debug:
  nop:
extensions:
  health_check:
    endpoint: 127.0.0.1:13133
service:
  extensions: [health_check]
  telemetry:
    logs:
      level: debug
    metrics:
      address: 127.0.0.1:8888
  pipelines:
    traces:
      receivers: [otlp, otlp/second]
      processors: [memory_limiter, batch]
      exporters: [otlp, otlphttp, file, debug, nop]
    metrics:
      receivers: [otlp]
      exporters: [otlp]
    logs/custom:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp, nop]
)";
  CommandResult r = Validate(yaml);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists("/tmp/otlpd-validate-never-written.jsonl"));
}

struct BadConfigCase {
  std::string name;
  std::string yaml;
  std::string path;  // key path the error must name
  int line;          // 1-based line the error must point at
  std::string also;  // another substring the message must contain ("" = none)
};

void PrintTo(const BadConfigCase& c, std::ostream* os) { *os << c.name; }

// A minimal valid config around one broken piece; line numbers are counted in the strings.
const BadConfigCase kBadConfigs[] = {
    {"UnknownComponentType",
     R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
exporters:
  nop:
  fancy/one:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
)",
     "exporters::fancy/one", 8, "fancy"},
    {"UnknownKey",
     R"(receivers:
  otlp:
    protocols:
      grpc:
        endpont: 127.0.0.1:4317
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
)",
     "receivers::otlp::protocols::grpc::endpont", 5, ""},
    {"WrongValueTypeInt",
     R"(receivers:
  otlp:
    protocols:
      grpc:
processors:
  batch:
    send_batch_size: lots
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [nop]
)",
     "processors::batch::send_batch_size", 7, ""},
    {"WrongValueTypeDuration",
     R"(receivers:
  otlp:
    protocols:
      grpc:
exporters:
  otlp:
    endpoint: 127.0.0.1:4317
    retry_on_failure:
      initial_interval: soon
service:
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [otlp]
)",
     "exporters::otlp::retry_on_failure::initial_interval", 9, ""},
    {"WrongValueTypeListForScalar",
     R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: [127.0.0.1, 4317]
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
)",
     "receivers::otlp::protocols::grpc::endpoint", 5, ""},
    {"PipelineNamesUndefinedExporter",
     R"(receivers:
  otlp:
    protocols:
      grpc:
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop, file/missing]
)",
     "service::pipelines::traces", 11, "file/missing"},
    {"PipelineNamesUndefinedReceiver",
     R"(receivers:
  otlp:
    protocols:
      grpc:
exporters:
  nop:
service:
  pipelines:
    metrics:
      receivers: [otlp/nothere]
      exporters: [nop]
)",
     "service::pipelines::metrics", 10, "otlp/nothere"},
    {"PipelineUsesReceiverAsProcessor",
     R"(receivers:
  otlp:
    protocols:
      grpc:
exporters:
  nop:
service:
  pipelines:
    logs:
      receivers: [otlp]
      processors: [otlp]
      exporters: [nop]
)",
     "service::pipelines::logs", 11, "otlp"},
    {"UnknownSignalInPipelineId",
     R"(receivers:
  otlp:
    protocols:
      grpc:
exporters:
  nop:
service:
  pipelines:
    spans:
      receivers: [otlp]
      exporters: [nop]
)",
     "service::pipelines::spans", 9, ""},
    {"UnknownExtensionInService",
     R"(receivers:
  otlp:
    protocols:
      grpc:
exporters:
  nop:
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
)",
     "service::extensions", 8, "health_check"},
    {"BadEnumValue",
     R"(receivers:
  otlp:
    protocols:
      http:
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:4318
    encoding: xml
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
)",
     "exporters::otlphttp::encoding", 8, ""},
};

class BadConfigTest : public ::testing::TestWithParam<BadConfigCase> {};

TEST_P(BadConfigTest, ValidateExits2WithKeyPathAndLine) {
  const BadConfigCase& c = GetParam();
  CommandResult r = Validate(c.yaml);
  EXPECT_EQ(r.exit_status, kConfigErrorExit) << r.err;
  EXPECT_THAT(r.err, HasSubstr(c.path));
  EXPECT_TRUE(MentionsLine(r.err, "bad.yaml", c.line))
      << "expected a reference to line " << c.line << " in:\n"
      << r.err;
  if (!c.also.empty()) {
    EXPECT_THAT(r.err, HasSubstr(c.also));
  }
}

TEST_P(BadConfigTest, DaemonRefusesToStartWithSameMessage) {
  const BadConfigCase& c = GetParam();
  CommandResult validate = Validate(c.yaml);
  CommandResult run = RunOtlpd({"--config", "{{DIR}}/bad.yaml"}, {{"bad.yaml", c.yaml}});
  EXPECT_EQ(run.exit_status, kConfigErrorExit) << run.err;
  EXPECT_THAT(run.err, HasSubstr(c.path));
  EXPECT_TRUE(MentionsLine(run.err, "bad.yaml", c.line)) << run.err;
  // The error lines of validate appear in the daemon's output too (the temp dir differs, so
  // compare from the file name on).
  std::regex error_line(R"(bad\.yaml:\d+:\d+: [^\n]*)");
  for (std::sregex_iterator it(validate.err.begin(), validate.err.end(), error_line), end;
       it != end; ++it) {
    EXPECT_THAT(run.err, HasSubstr(it->str()));
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BadConfigTest, ::testing::ValuesIn(kBadConfigs),
                         [](const auto& info) { return info.param.name; });

TEST(ValidateTest, AllErrorsAreReportedAtOnce) {
  const std::string yaml = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpont: 127.0.0.1:4317
processors:
  batch:
    timeout: never
exporters:
  nop:
  unknowntype:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [nop, missing]
)";
  CommandResult r = Validate(yaml);
  EXPECT_EQ(r.exit_status, kConfigErrorExit);
  EXPECT_THAT(r.err, HasSubstr("receivers::otlp::protocols::grpc::endpont"));
  EXPECT_THAT(r.err, HasSubstr("processors::batch::timeout"));
  EXPECT_THAT(r.err, HasSubstr("unknowntype"));
  EXPECT_THAT(r.err, HasSubstr("missing"));
  EXPECT_TRUE(MentionsLine(r.err, "bad.yaml", 5)) << r.err;
  EXPECT_TRUE(MentionsLine(r.err, "bad.yaml", 8)) << r.err;
  EXPECT_TRUE(MentionsLine(r.err, "bad.yaml", 11)) << r.err;
}

TEST(ValidateTest, YamlSyntaxErrorNamesLine) {
  const std::string yaml = "receivers:\n  otlp:\n    protocols: [grpc\nexporters:\n  nop:\n";
  CommandResult r = Validate(yaml);
  EXPECT_EQ(r.exit_status, kConfigErrorExit) << r.err;
  EXPECT_THAT(r.err, HasSubstr("bad.yaml"));
  EXPECT_TRUE(std::regex_search(r.err, std::regex(R"(bad\.yaml:\d+|line \d+)"))) << r.err;
}

TEST(ValidateTest, EmptyPipelinesAreAnError) {
  const std::string yaml = "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  nop:\n";
  CommandResult r = Validate(yaml);
  EXPECT_EQ(r.exit_status, kConfigErrorExit) << r.err;
  EXPECT_THAT(r.err, HasSubstr("pipelines"));
}

TEST(ValidateTest, MissingConfigFileFails) {
  CommandResult r = RunOtlpd({"validate", "--config", "{{DIR}}/does-not-exist.yaml"});
  EXPECT_NE(r.exit_status, 0);
  EXPECT_THAT(r.err, HasSubstr("does-not-exist.yaml"));
  r = RunOtlpd({"--config", "{{DIR}}/does-not-exist.yaml"});
  EXPECT_NE(r.exit_status, 0);
  EXPECT_NE(r.exit_status, 137) << "hung instead of failing";
  EXPECT_THAT(r.err, HasSubstr("does-not-exist.yaml"));
}

TEST(ValidateTest, DaemonWithBadConfigBindsNothing) {
  int grpc_port = FreePort();
  const std::string yaml = absl::StrCat(R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:)",
                                        grpc_port, R"(
exporters:
  nop:
    bogus: 1
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
)");
  DaemonProcess daemon("badcfg");
  ASSERT_TRUE(daemon.StartWithConfig(yaml).ok());
  EXPECT_EQ(daemon.WaitExit(absl::Seconds(30)), kConfigErrorExit) << daemon.Stderr();
  EXPECT_THAT(daemon.Stderr(), HasSubstr("exporters::nop::bogus"));
  EXPECT_FALSE(PortOpen(grpc_port));
}

TEST(ValidateTest, VersionFlagPrintsVersion) {
  CommandResult r = RunOtlpd({"--version"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr(OTLPD_VERSION));
  EXPECT_THAT(r.out + r.err, HasSubstr("otlpd"));
}

TEST(ValidateTest, EnvExpansionInEndpoints) {
  std::map<std::string, std::string> vars = PortVars();
  const int grpc_port = PortOf(vars, "GRPC_PORT");
  const int http_port = PortOf(vars, "HTTP_PORT");
  // The gRPC port comes from a set variable; the HTTP endpoint from the default of an unset
  // one; the metrics address from ${VAR} shorthand.
  const std::string yaml = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${env:OTLPD_IT_GRPC_PORT}
      http:
        endpoint: ${env:OTLPD_IT_UNSET_VARIABLE:-127.0.0.1:{{HTTP_PORT}}}
exporters:
  file:
    path: ${env:OTLPD_IT_OUT_DIR}/traces.jsonl
service:
  telemetry:
    metrics:
      address: 127.0.0.1:${env:OTLPD_IT_METRICS_PORT}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
)";
  DaemonProcess daemon("envexp");
  EnvVars env = {{"OTLPD_IT_GRPC_PORT", absl::StrCat(grpc_port)},
                 {"OTLPD_IT_METRICS_PORT", vars["METRICS_PORT"]},
                 {"OTLPD_IT_OUT_DIR", daemon.dir().path()}};
  unsetenv("OTLPD_IT_UNSET_VARIABLE");

  // validate sees the same expansion.
  std::string config = daemon.WriteConfig(yaml, vars);
  DaemonProcess validate("envexp-validate");
  ASSERT_TRUE(validate.Start({"validate", "--config", config}, env).ok());
  EXPECT_EQ(validate.WaitExit(), 0) << validate.Stderr();

  ASSERT_TRUE(daemon.Start({"--config", config}, env).ok());
  ASSERT_TRUE(daemon.WaitForPort(grpc_port)) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(http_port)) << daemon.Stderr();

  OtlpGrpcClient client(grpc_port);
  SampleOptions options;
  options.seed = 77;
  TracesRequest sent = MakeTraces(options);
  grpc::Status status = client.Export(sent);
  ASSERT_TRUE(status.ok()) << status.error_message();
  HttpResult r = HttpPost(LocalUrl(http_port, "/v1/traces"), sent.SerializeAsString(),
                          {"Content-Type: application/x-protobuf"});
  EXPECT_EQ(r.status, 200) << r.error << r.body;

  std::string out = daemon.File("traces.jsonl");
  ASSERT_EQ(WaitForLines(out, 2).size(), 2u) << daemon.Stderr();
  auto written = ReadTracesFile(out);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(ProtoDiff(sent, written->at(0)), "");
  EXPECT_EQ(ProtoDiff(sent, written->at(1)), "");
  EXPECT_TRUE(PortOpen(PortOf(vars, "METRICS_PORT")));
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

}  // namespace
}  // namespace otlpd::testing

namespace otlpd::testing {
namespace {

// A component whose Create fails (an attributes processor matching by service in a logs
// pipeline: otelcol refuses that when the pipeline is built) stops the start with its error
// and exit status 1, not a crash.
TEST(ValidateTest, ComponentThatFailsToBuildIsAnErrorNotACrash) {
  std::map<std::string, std::string> ports = PortVars();
  const std::string yaml = Substitute(R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
processors:
  attributes:
    include:
      match_type: strict
      services: [a]
    actions:
      - {key: k, value: v, action: upsert}
exporters:
  nop:
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    logs:
      receivers: [otlp]
      processors: [attributes]
      exporters: [nop]
)",
                                      ports);
  CommandResult r = RunOtlpd({"--config", "{{DIR}}/c.yaml"}, {{"c.yaml", yaml}});
  EXPECT_NE(r.exit_status, 0) << r.err;
  EXPECT_LT(r.exit_status, 128) << "killed by a signal: " << r.err;
  EXPECT_THAT(r.err, HasSubstr("attributes")) << r.err;
}

}  // namespace
}  // namespace otlpd::testing
