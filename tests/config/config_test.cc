#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "core/registry.h"

namespace otlpd {
namespace {

std::string Parse(const std::string& yaml, const ComponentRegistry& registry,
                  std::unique_ptr<Config>* out = nullptr) {
  Diagnostics diag("test.yaml");
  auto config = ParseConfig(yaml, registry, &diag);
  if (out != nullptr) *out = std::move(config);
  return diag.Format();
}

class BuiltinConfigTest : public ::testing::Test {
 protected:
  BuiltinConfigTest() { RegisterBuiltinComponents(&registry_); }
  ComponentRegistry registry_;
};

TEST_F(BuiltinConfigTest, DefaultConfigIsValid) {
  std::unique_ptr<Config> config;
  EXPECT_EQ(Parse(std::string(DefaultConfigYaml()), registry_, &config), "");
  ASSERT_EQ(config->pipelines.size(), 3u);
  EXPECT_EQ(config->pipelines[0].id, "traces");
  EXPECT_EQ(config->pipelines[0].processors.size(), 2u);
  EXPECT_EQ(config->telemetry.metrics_address, "127.0.0.1:8888");
  // health_check and query (over the tiered_storage exporter all pipelines write to).
  EXPECT_EQ(config->service_extensions.size(), 2u);
  EXPECT_EQ(config->pipelines[0].exporters.size(), 1u);
  EXPECT_EQ(config->pipelines[0].exporters[0].ToString(), "tiered_storage");
}

constexpr char kBase[] = R"(
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
exporters:
  nop:
  debug/verbose:
    verbosity: detailed
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop, debug/verbose]
)";

TEST_F(BuiltinConfigTest, NamedIdsAndSharedReceiver) {
  std::unique_ptr<Config> config;
  std::string yaml = std::string(kBase) + R"(
    logs/2:
      receivers: [otlp]
      exporters: [nop]
)";
  EXPECT_EQ(Parse(yaml, registry_, &config), "");
  ASSERT_EQ(config->pipelines.size(), 2u);
  EXPECT_EQ(config->pipelines[1].signal, Signal::kLogs);
  EXPECT_EQ(config->pipelines[0].exporters[1], (ComponentId{"debug", "verbose"}));
}

TEST_F(BuiltinConfigTest, UnknownComponentTypeWithLine) {
  std::string errors = Parse(R"(receivers:
  otlp:
    protocols:
      grpc:
  bogus:
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
)",
                             registry_);
  EXPECT_NE(errors.find("test.yaml:5:3: receivers::bogus: unknown receiver type \"bogus\""),
            std::string::npos)
      << errors;
}

TEST_F(BuiltinConfigTest, UnknownKeyWithPathAndLine) {
  std::string errors = Parse(R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
        endpoit: 127.0.0.1:4317
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
)",
                             registry_);
  EXPECT_NE(errors.find("6:9: receivers::otlp::protocols::grpc::endpoit: unknown key"),
            std::string::npos)
      << errors;
}

TEST_F(BuiltinConfigTest, WrongValueTypeAndAllErrorsReported) {
  std::string errors = Parse(R"(receivers:
  otlp:
    protocols:
      grpc:
        max_recv_msg_size_mib: lots
processors:
  batch:
    timeout: soon
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [nop, otlp/missing]
)",
                             registry_);
  EXPECT_NE(errors.find("receivers::otlp::protocols::grpc::max_recv_msg_size_mib"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("5:32"), std::string::npos) << errors;
  EXPECT_NE(errors.find("processors::batch::timeout"), std::string::npos) << errors;
  EXPECT_NE(errors.find("service::pipelines::traces::exporters[1]: references exporter "
                        "\"otlp/missing\" which is not configured"),
            std::string::npos)
      << errors;
}

TEST_F(BuiltinConfigTest, PipelineProblems) {
  std::string errors = Parse(R"(receivers:
  otlp:
    protocols:
      http:
exporters:
  nop:
service:
  pipelines:
    spans:
      receivers: [otlp]
      exporters: [nop]
    traces:
      receivers: []
      exporters: [nop, nop]
)",
                             registry_);
  EXPECT_NE(errors.find("service::pipelines::spans: unknown pipeline signal \"spans\""),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("a pipeline needs at least one receiver"), std::string::npos) << errors;
  EXPECT_NE(errors.find("\"nop\" is listed twice"), std::string::npos) << errors;
}

TEST_F(BuiltinConfigTest, MissingServiceAndBadYaml) {
  EXPECT_NE(Parse("receivers: {}\n", registry_).find("service"), std::string::npos);
  std::string errors = Parse("receivers:\n  otlp: [\n", registry_);
  EXPECT_NE(errors.find("invalid YAML"), std::string::npos) << errors;
  EXPECT_NE(Parse("- a\n- b\n", registry_).find("must be a YAML map"), std::string::npos);
  EXPECT_NE(Parse(std::string(kBase) + "foo: 1\n", registry_).find("foo: unknown key"),
            std::string::npos);
}

TEST_F(BuiltinConfigTest, EnvExpansionInValues) {
  setenv("OTLPD_TEST_ENDPOINT", "127.0.0.1:5555", 1);
  unsetenv("OTLPD_TEST_UNSET");
  std::unique_ptr<Config> config;
  std::string yaml = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${env:OTLPD_TEST_ENDPOINT}
      http:
        endpoint: ${env:OTLPD_TEST_UNSET:-127.0.0.1:6666}
exporters:
  nop:
service:
  telemetry:
    metrics:
      address: ${OTLPD_TEST_ENDPOINT}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
)";
  EXPECT_EQ(Parse(yaml, registry_, &config), "");
  EXPECT_EQ(config->telemetry.metrics_address, "127.0.0.1:5555");
}

TEST(ExpandEnvTest, Forms) {
  setenv("OTLPD_X", "x", 1);
  setenv("OTLPD_EMPTY", "", 1);
  unsetenv("OTLPD_NOPE");
  EXPECT_EQ(ExpandEnv("a${env:OTLPD_X}b"), "axb");
  EXPECT_EQ(ExpandEnv("${OTLPD_X}"), "x");
  EXPECT_EQ(ExpandEnv("${env:OTLPD_NOPE:-d:e}"), "d:e");
  EXPECT_EQ(ExpandEnv("${env:OTLPD_EMPTY:-d}"), "d");
  EXPECT_EQ(ExpandEnv("${env:OTLPD_NOPE}"), "");
  EXPECT_EQ(ExpandEnv("$$5"), "$5");
  EXPECT_EQ(ExpandEnv("plain"), "plain");
  EXPECT_EQ(ExpandEnv("${unterminated"), "${unterminated");
}

constexpr char kConnectorBase[] = R"(receivers:
  otlp:
    protocols:
      grpc:
exporters:
  nop:
connectors:
  forward:
service:
  pipelines:
)";

TEST_F(BuiltinConfigTest, ConnectorJoinsPipelinesInOrder) {
  std::unique_ptr<Config> config;
  // The downstream pipeline is listed first; the parsed order puts its feeder first.
  std::string yaml = std::string(kConnectorBase) + R"(    traces/out:
      receivers: [forward]
      exporters: [nop]
    logs:
      receivers: [otlp]
      exporters: [nop]
    traces/in:
      receivers: [otlp]
      exporters: [forward]
)";
  ASSERT_EQ(Parse(yaml, registry_, &config), "");
  ASSERT_EQ(config->pipelines.size(), 3u);
  EXPECT_EQ(config->pipelines[0].id, "logs");
  EXPECT_EQ(config->pipelines[1].id, "traces/in");
  EXPECT_EQ(config->pipelines[2].id, "traces/out");
  EXPECT_EQ(config->connectors.size(), 1u);
}

TEST_F(BuiltinConfigTest, ConnectorUsedOnOneSideOnly) {
  std::string errors = Parse(std::string(kConnectorBase) + R"(    traces:
      receivers: [otlp]
      exporters: [forward]
)",
                             registry_);
  EXPECT_NE(errors.find("test.yaml:13:19: service::pipelines::traces::exporters[0]: connector "
                        "\"forward\" is used as exporter in traces pipeline but not used in any "
                        "supported receiver pipeline"),
            std::string::npos)
      << errors;

  errors = Parse(std::string(kConnectorBase) + R"(    traces:
      receivers: [otlp]
      exporters: [forward]
    logs:
      receivers: [forward]
      exporters: [nop]
)",
                 registry_);
  // forward only joins pipelines of the same signal.
  EXPECT_NE(errors.find("used as exporter in traces pipeline but not used in any supported "
                        "receiver pipeline"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("test.yaml:15:19: service::pipelines::logs::receivers[0]: connector "
                        "\"forward\" is used as receiver in logs pipeline but not used in any "
                        "supported exporter pipeline"),
            std::string::npos)
      << errors;
}

TEST_F(BuiltinConfigTest, ConnectorCycleIsAnError) {
  std::string errors = Parse(R"(receivers:
  otlp:
    protocols:
      grpc:
exporters:
  nop:
connectors:
  forward:
  forward/back:
service:
  pipelines:
    traces/a:
      receivers: [otlp, forward/back]
      exporters: [forward]
    traces/b:
      receivers: [forward]
      exporters: [nop, forward/back]
)",
                             registry_);
  EXPECT_NE(errors.find("cycle detected: connector \"forward/back\" closes the loop traces/a -> "
                        "traces/b -> traces/a"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("test.yaml:17:24: service::pipelines::traces/b::exporters[1]"),
            std::string::npos)
      << errors;
}

// A connector type named like an exporter type, to check that ids may not collide.
class NopConnectorFactory : public ConnectorFactory {
 public:
  std::string_view type() const override { return "nop"; }
  bool Supports(Signal from, Signal to) const override { return from == to; }
  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode&) const override {
    return std::make_unique<ComponentConfig>();
  }
  absl::StatusOr<std::unique_ptr<Connector>> Create(const CreateSettings&, const ComponentConfig&,
                                                    Signal, Signal, ConsumerPtr) const override {
    return absl::UnimplementedError("config test only parses");
  }
};

TEST_F(BuiltinConfigTest, ConnectorIdMustNotCollide) {
  registry_.Register(std::make_unique<NopConnectorFactory>());
  std::string errors = Parse(R"(receivers:
  otlp:
    protocols:
      grpc:
exporters:
  nop:
connectors:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
)",
                             registry_);
  EXPECT_NE(errors.find("test.yaml:8:3: connectors::nop: id conflicts with the exporter \"nop\""),
            std::string::npos)
      << errors;
}

TEST_F(BuiltinConfigTest, ExtensionReferencesMustBeEnabled) {
  std::string errors = Parse(R"(receivers:
  otlp:
    protocols:
      grpc:
        auth:
          authenticator: bearertokenauth
exporters:
  nop:
extensions:
  health_check:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
)",
                             registry_);
  // Configured but not enabled is reported too.
  std::string not_enabled = Parse(R"(receivers:
  otlp:
    protocols:
      http:
        auth:
          authenticator: bearertokenauth/in
exporters:
  nop:
extensions:
  bearertokenauth/in:
    token: s3cret
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
)",
                                  registry_);
  EXPECT_NE(not_enabled.find("test.yaml:6:26: receivers::otlp::protocols::http::auth::"
                             "authenticator: extension \"bearertokenauth/in\" is configured but "
                             "not enabled in service::extensions"),
            std::string::npos)
      << not_enabled;
  EXPECT_NE(errors.find("test.yaml:6:26: receivers::otlp::protocols::grpc::auth::authenticator: "
                        "references extension \"bearertokenauth\" which is not configured"),
            std::string::npos)
      << errors;
}


// A component that only handles traces, to check pipeline signal validation.
class TracesOnlyExporterFactory : public ExporterFactory {
 public:
  std::string_view type() const override { return "tracesonly"; }
  SignalSet signals() const override { return {Signal::kTraces}; }
  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode&) const override {
    return std::make_unique<ComponentConfig>();
  }
  absl::StatusOr<std::unique_ptr<Exporter>> Create(const CreateSettings&,
                                                   const ComponentConfig&) const override {
    return absl::UnimplementedError("config test only parses");
  }
};

TEST_F(BuiltinConfigTest, ComponentNotSupportingSignal) {
  registry_.Register(std::make_unique<TracesOnlyExporterFactory>());
  std::string errors = Parse(R"(receivers:
  otlp:
    protocols:
      grpc:
exporters:
  tracesonly:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [tracesonly]
    logs:
      receivers: [otlp]
      exporters: [tracesonly]
)",
                             registry_);
  EXPECT_NE(errors.find("14:19: service::pipelines::logs::exporters[0]: exporter \"tracesonly\" "
                        "does not support logs"),
            std::string::npos)
      << errors;
  EXPECT_EQ(errors.find("pipelines::traces"), std::string::npos) << errors;
}

}  // namespace
}  // namespace otlpd
