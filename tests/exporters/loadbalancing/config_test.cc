// Configuration of the loadbalancing exporter: otelcol's keys (routing_key, protocol.otlp
// checked by the otlp exporter's own parser, resolver.static / resolver.dns), otlpd's
// outlier_detection, and errors placed at their key path and line.
#include "exporters/loadbalancing/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "exporters/loadbalancing/factory.h"
#include "exporters/loadbalancing/resolver.h"
#include "exporters/otlp/factory.h"

namespace otlpd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const ExporterFactory& Factory() {
  static const auto* factory = NewLoadBalancingExporterFactory(NewOtlpExporterFactory()).release();
  return *factory;
}

std::unique_ptr<ComponentConfig> Parse(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), "exporters::loadbalancing", diag);
  auto config = Factory().ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

// "LINE: PATH: MESSAGE" of every error.
std::vector<std::string> Errors(const std::string& yaml) {
  Diagnostics diag;
  Parse(yaml, &diag);
  std::vector<std::string> out;
  for (const ConfigError& e : diag.errors()) {
    out.push_back(absl::StrCat(e.line, ": ", e.path, ": ", e.message));
  }
  return out;
}

TEST(LoadBalancingConfigTest, OtelcolExampleAndDefaults) {
  Diagnostics diag;
  auto config = Parse(R"(
routing_key: traceID
protocol:
  otlp:
    timeout: 1s
    tls:
      insecure: true
resolver:
  static:
    hostnames:
      - backend-1:4317
      - backend-2
      - "[::1]:5317"
)",
                      &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& cfg = ConfigAs<LoadBalancingConfig>(*config);
  EXPECT_EQ(cfg.routing_key, RoutingKey::kTraceId);
  EXPECT_THAT(cfg.static_hostnames, ElementsAre("backend-1:4317", "backend-2:4317", "[::1]:5317"));
  EXPECT_FALSE(cfg.dns.has_value());
  EXPECT_EQ(cfg.helper.timeout, absl::Seconds(1));
  EXPECT_TRUE(cfg.helper.queue.enabled);
  EXPECT_EQ(cfg.helper.queue.queue_size, 1000);
  EXPECT_TRUE(cfg.outlier.enabled);
  EXPECT_EQ(cfg.outlier.consecutive_errors, 5);
  EXPECT_EQ(cfg.outlier.base_ejection_time, absl::Seconds(30));
  EXPECT_EQ(cfg.outlier.max_ejection_time, absl::Seconds(300));
  EXPECT_EQ(cfg.outlier.max_ejection_percent, 50);
}

TEST(LoadBalancingConfigTest, DnsResolverOutlierDetectionAndDurableQueue) {
  Diagnostics diag;
  auto config = Parse(R"(
protocol:
  otlp:
    endpoint: ignored:1234
    sending_queue:
      storage: file_storage/lb
      num_consumers: 3
    retry_on_failure:
      initial_interval: 100ms
resolver:
  dns:
    hostname: gateways.local
    port: 5317
    interval: 2s
    timeout: 500ms
outlier_detection:
  consecutive_errors: 2
  base_ejection_time: 1s
  max_ejection_time: 4s
  max_ejection_percent: 34
)",
                      &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& cfg = ConfigAs<LoadBalancingConfig>(*config);
  EXPECT_FALSE(cfg.routing_key.has_value());
  ASSERT_TRUE(cfg.dns.has_value());
  EXPECT_EQ(cfg.dns->hostname, "gateways.local");
  EXPECT_EQ(cfg.dns->port, 5317);
  EXPECT_EQ(cfg.dns->interval, absl::Seconds(2));
  EXPECT_EQ(cfg.dns->timeout, absl::Milliseconds(500));
  ASSERT_TRUE(cfg.helper.queue.storage.has_value());
  EXPECT_EQ(cfg.helper.queue.storage->ToString(), "file_storage/lb");
  EXPECT_EQ(cfg.helper.queue.num_consumers, 3);
  EXPECT_EQ(cfg.helper.retry.initial_interval, absl::Milliseconds(100));
  EXPECT_EQ(cfg.outlier.consecutive_errors, 2);
  EXPECT_EQ(cfg.outlier.max_ejection_percent, 34);
  // The storage reference is checked against service::extensions like the otlp exporter's.
  ASSERT_EQ(diag.extension_refs().size(), 1u);
  EXPECT_EQ(diag.extension_refs()[0].id.ToString(), "file_storage/lb");
}

TEST(LoadBalancingConfigTest, DnsDefaults) {
  Diagnostics diag;
  auto config = Parse("resolver: {dns: {hostname: gw}}\n", &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& cfg = ConfigAs<LoadBalancingConfig>(*config);
  EXPECT_EQ(cfg.dns->port, 4317);
  EXPECT_EQ(cfg.dns->interval, absl::Seconds(5));
  EXPECT_EQ(cfg.dns->timeout, absl::Seconds(1));
}

TEST(LoadBalancingConfigTest, ErrorsNameTheKeyAndLine) {
  EXPECT_THAT(Errors("routing_key: traceid\nresolver: {static: {hostnames: [a]}}\n"),
              ElementsAre(HasSubstr("1: exporters::loadbalancing::routing_key: unsupported "
                                    "routing_key \"traceid\"")));
  EXPECT_THAT(Errors("protocol: {otlp: {}}\n"),
              ElementsAre(HasSubstr("requires resolver::static or resolver::dns")));
  EXPECT_THAT(Errors("resolver:\n  static: {hostnames: [a]}\n  dns: {hostname: b}\n"),
              ElementsAre(HasSubstr("set only one of")));
  EXPECT_THAT(Errors("resolver:\n  k8s: {service: x}\n"),
              ElementsAre(HasSubstr("k8s resolver is not supported")));
  EXPECT_THAT(Errors("resolver:\n  static: {hostnames: []}\n"),
              ElementsAre(HasSubstr("static::hostnames: requires a non-empty list")));
  EXPECT_THAT(Errors("resolver:\n  static:\n    hostnames: [\"a:0\", \"b:70000\", \"::1\"]\n"),
              ElementsAre(HasSubstr("3: exporters::loadbalancing::resolver::static::hostnames: "
                                    "invalid port in \"a:0\""),
                          HasSubstr("invalid port in \"b:70000\""), HasSubstr("needs brackets")));
  EXPECT_THAT(Errors("resolver:\n  dns: {port: 99999}\n"),
              ElementsAre(HasSubstr("dns::hostname: requires a non-empty"),
                          HasSubstr("dns::port: invalid port")));
  EXPECT_THAT(Errors("resolver:\n  dns: {hostname: x, interval: 0s, timeout: 0s}\n"),
              ElementsAre(HasSubstr("dns::interval: must be larger than zero"),
                          HasSubstr("dns::timeout: must be larger than zero")));
  // protocol.otlp goes through the otlp exporter's parser, at its real path and line.
  EXPECT_THAT(Errors("resolver: {static: {hostnames: [a]}}\nprotocol:\n  otlp:\n    compression: "
                     "zstd\n    bogus: 1\n"),
              ElementsAre(HasSubstr("4: exporters::loadbalancing::protocol::otlp::compression: "),
                          HasSubstr("5: exporters::loadbalancing::protocol::otlp::bogus: unknown "
                                    "key")));
  EXPECT_THAT(Errors("resolver: {static: {hostnames: [a]}}\nprotocol: {otlphttp: {}}\n"),
              ElementsAre(HasSubstr("protocol::otlphttp: unknown key")));
  EXPECT_THAT(Errors("resolver: {static: {hostnames: [a]}}\noutlier_detection:\n  "
                     "consecutive_errors: 0\n  base_ejection_time: 10s\n  max_ejection_time: 1s\n"
                     "  max_ejection_percent: 101\n"),
              ElementsAre(HasSubstr("consecutive_errors: must be at least 1"),
                          HasSubstr("max_ejection_time: must not be less than"),
                          HasSubstr("max_ejection_percent: must be between 0 and 100")));
}

TEST(LoadBalancingConfigTest, NormalizeBackendEndpoint) {
  EXPECT_EQ(*NormalizeBackendEndpoint("gw", 4317), "gw:4317");
  EXPECT_EQ(*NormalizeBackendEndpoint("gw:1", 4317), "gw:1");
  EXPECT_EQ(*NormalizeBackendEndpoint("[fe80::1]", 4317), "[fe80::1]:4317");
  EXPECT_EQ(*NormalizeBackendEndpoint("[fe80::1]:9", 4317), "[fe80::1]:9");
  for (const char* bad : {"", ":4317", "gw:", "gw:x", "[::1", "[::1]x", "[]:1", "a b:1", "::1"}) {
    EXPECT_FALSE(NormalizeBackendEndpoint(bad, 4317).ok()) << bad;
  }
}

TEST(LoadBalancingConfigTest, ResolveBackendsFindsLoopbackAndFailsOnNonsense) {
  absl::StatusOr<std::vector<std::string>> local =
      ResolveBackends("localhost", 4317, absl::Seconds(5));
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_THAT(*local, ::testing::Contains(::testing::AnyOf("127.0.0.1:4317", "[::1]:4317")));
  absl::StatusOr<std::vector<std::string>> bad =
      ResolveBackends("no-such-host.invalid", 4317, absl::Seconds(5));
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace otlpd
