#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <regex>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/component.h"
#include "core/config_node.h"
#include "core/metrics.h"
#include "extensions/health_check/config.h"
#include "extensions/health_check/factory.h"
#include "extensions/health_check/health_check_extension.h"
#include "testing/test_host.h"

namespace otlpd {
namespace {

using otlpd::testing::TestHost;

struct CurlResult {
  int status = 0;
  std::string body;
};

// GET with the real curl binary (bounded by --max-time).
CurlResult Curl(const std::string& url, const std::string& method = "GET") {
  std::string cmd = absl::StrCat("curl -s --max-time 5 -X ", method, " -w '\\n%{http_code}' '", url,
                                 "' 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while (pipe != nullptr && (n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  if (pipe != nullptr) pclose(pipe);
  CurlResult result;
  size_t nl = out.rfind('\n');
  if (nl == std::string::npos) return result;
  result.body = out.substr(0, nl);
  if (!absl::SimpleAtoi(out.substr(nl + 1), &result.status)) result.status = -1;
  return result;
}

std::unique_ptr<ComponentConfig> Parse(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), "extensions::health_check", diag);
  auto config = NewHealthCheckExtensionFactory()->ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

struct Fixture {
  explicit Fixture(const std::string& yaml) {
    Diagnostics diag;
    config = Parse(yaml, &diag);
    EXPECT_TRUE(diag.ok()) << diag.Format();
    auto created = NewHealthCheckExtensionFactory()->Create(
        CreateSettings{{"health_check", ""}, &host}, *config);
    EXPECT_TRUE(created.ok()) << created.status();
    extension.reset(static_cast<HealthCheckExtension*>(created->release()));
    absl::Status s = extension->Start();
    EXPECT_TRUE(s.ok()) << s;
  }
  ~Fixture() { extension->Shutdown(absl::Now() + absl::Seconds(5)); }
  std::string Url(const std::string& path) {
    return absl::StrCat("http://127.0.0.1:", extension->port(), path);
  }

  TestHost host;
  std::unique_ptr<ComponentConfig> config;
  std::unique_ptr<HealthCheckExtension> extension;
};

TEST(HealthCheckTest, ReportsTheHostsHealth) {
  Fixture f("endpoint: 127.0.0.1:0");
  ASSERT_GT(f.extension->port(), 0);
  CurlResult healthy = Curl(f.Url("/"));
  EXPECT_EQ(healthy.status, 200);
  const std::regex body(
      R"re(\{"status":"Server available","upSince":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z","uptime":"[0-9.]+(ns|us|ms|s)"\})re");
  EXPECT_TRUE(std::regex_match(healthy.body, body)) << healthy.body;

  f.host.healthy = false;
  CurlResult unhealthy = Curl(f.Url("/"));
  EXPECT_EQ(unhealthy.status, 503);
  EXPECT_EQ(unhealthy.body, R"({"status":"Server not available"})");

  f.host.healthy = true;
  EXPECT_EQ(Curl(f.Url("/")).status, 200);
  EXPECT_EQ(Curl(f.Url("/other")).status, 404);
  EXPECT_EQ(Curl(f.Url("/"), "POST").status, 405);
}

TEST(HealthCheckTest, CustomPathAndBodies) {
  Fixture f(
      "endpoint: 127.0.0.1:0\npath: /health/status\n"
      "response_body:\n  healthy: I'm OK\n  unhealthy: I'm bad!");
  CurlResult ok = Curl(f.Url("/health/status"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "I'm OK");
  EXPECT_EQ(Curl(f.Url("/")).status, 404);
  f.host.healthy = false;
  CurlResult bad = Curl(f.Url("/health/status"));
  EXPECT_EQ(bad.status, 503);
  EXPECT_EQ(bad.body, "I'm bad!");
}

TEST(HealthCheckTest, StopsServingOnShutdown) {
  Fixture f("endpoint: 127.0.0.1:0");
  const std::string url = f.Url("/");
  EXPECT_EQ(Curl(url).status, 200);
  f.extension->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(Curl(url).status, 0);  // connection refused: curl prints 000
}

TEST(HealthCheckTest, PortInUseFailsStart) {
  Fixture first("endpoint: 127.0.0.1:0");
  Diagnostics diag;
  auto config = Parse(absl::StrCat("endpoint: 127.0.0.1:", first.extension->port()), &diag);
  TestHost host;
  auto second = NewHealthCheckExtensionFactory()->Create(
      CreateSettings{{"health_check", "b"}, &host}, *config);
  ASSERT_TRUE(second.ok());
  absl::Status s = (*second)->Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("health_check/b"), absl::string_view::npos) << s;
}

TEST(HealthCheckTest, ConfigDefaults) {
  Diagnostics diag;
  auto config = Parse("{}", &diag);
  EXPECT_TRUE(diag.ok());
  const auto& c = ConfigAs<HealthCheckConfig>(*config);
  EXPECT_EQ(c.endpoint, "127.0.0.1:13133");
  EXPECT_EQ(c.path, "/");
  EXPECT_FALSE(c.healthy_body.has_value());

  Diagnostics bad;
  Parse("path: health\nunknown_key: 1", &bad);
  EXPECT_EQ(bad.errors().size(), 2u) << bad.Format();
}

}  // namespace
}  // namespace otlpd
