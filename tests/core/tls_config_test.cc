#include "core/tls_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "absl/strings/match.h"
#include "testing/certs.h"
#include "testing/temp_dir.h"

namespace otlpd {
namespace {

struct Parsed {
  Diagnostics diag;
  TlsServerSettings server;
  TlsClientSettings client;
  bool Has(absl::string_view text) const {
    for (const ConfigError& e : diag.errors()) {
      if (absl::StrContains(e.message, text)) return true;
    }
    return false;
  }
};

Parsed ParseServer(const std::string& yaml) {
  Parsed p;
  ConfigNode root(YAML::Load(yaml), "receivers::otlp::protocols::http", &p.diag);
  ParseTlsServer(root.Child("tls"), &p.server);
  root.ReportUnknownKeys();
  return p;
}

Parsed ParseClient(const std::string& yaml) {
  Parsed p;
  ConfigNode root(YAML::Load(yaml), "exporters::otlp", &p.diag);
  ParseTlsClient(root.Child("tls"), &p.client);
  root.ReportUnknownKeys();
  return p;
}

TEST(TlsServerConfigTest, AbsentBlockMeansNoTls) {
  Parsed p = ParseServer("endpoint: x\n");
  p.diag = Diagnostics();  // "endpoint" is not ours
  EXPECT_FALSE(p.server.enabled());
  Parsed null_block = ParseServer("tls:\n");
  EXPECT_TRUE(null_block.diag.ok()) << null_block.diag.Format();
  EXPECT_FALSE(null_block.server.enabled());
}

TEST(TlsServerConfigTest, AllKeys) {
  Parsed p = ParseServer(R"(
tls:
  cert_file: /c.pem
  key_file: /k.pem
  ca_file: /ca.pem
  client_ca_file: /clients.pem
  min_version: "1.3"
  max_version: "1.3"
  reload_interval: 1m
)");
  ASSERT_TRUE(p.diag.ok()) << p.diag.Format();
  EXPECT_TRUE(p.server.enabled());
  EXPECT_EQ(p.server.cert_file, "/c.pem");
  EXPECT_EQ(p.server.key_file, "/k.pem");
  EXPECT_EQ(p.server.ca_file, "/ca.pem");
  EXPECT_EQ(p.server.client_ca_file, "/clients.pem");
  EXPECT_EQ(p.server.min_version, "1.3");
  EXPECT_EQ(p.server.max_version, "1.3");
  EXPECT_EQ(p.server.reload_interval, absl::Minutes(1));
}

TEST(TlsServerConfigTest, Defaults) {
  Parsed p = ParseServer("tls: {cert_file: /c, key_file: /k}\n");
  ASSERT_TRUE(p.diag.ok()) << p.diag.Format();
  EXPECT_EQ(p.server.min_version, "1.2");
  EXPECT_EQ(p.server.max_version, "");
  EXPECT_EQ(p.server.reload_interval, absl::ZeroDuration());
  EXPECT_TRUE(p.server.client_ca_file.empty());
}

TEST(TlsServerConfigTest, Validation) {
  EXPECT_TRUE(ParseServer("tls: {ca_file: /ca}\n")
                  .Has("TLS configuration must include both certificate and key for server"));
  EXPECT_TRUE(ParseServer("tls: {cert_file: /c}\n")
                  .Has("TLS configuration must include both certificate and key"));
  EXPECT_TRUE(ParseServer("tls: {key_file: /k}\n")
                  .Has("TLS configuration must include both certificate and key"));
  EXPECT_TRUE(ParseServer("tls: {cert_file: /c, key_file: /k, min_version: '1.4'}\n")
                  .Has("invalid TLS min_version: unsupported TLS version: \"1.4\""));
  EXPECT_TRUE(ParseServer("tls: {cert_file: /c, key_file: /k, max_version: 'TLS1.2'}\n")
                  .Has("invalid TLS max_version: unsupported TLS version"));
  EXPECT_TRUE(
      ParseServer("tls: {cert_file: /c, key_file: /k, min_version: '1.3', max_version: '1.2'}\n")
          .Has("min_version cannot be greater than max_version"));
  EXPECT_TRUE(ParseServer("tls: {cert_file: /c, key_file: /k, reload_interval: -1s}\n")
                  .Has("expected a duration"));
  EXPECT_FALSE(ParseServer("tls: {cert_file: /c, key_file: /k, cipher_suites: [X]}\n").diag.ok());
  // Files are not touched while parsing.
  EXPECT_TRUE(ParseServer("tls: {cert_file: /does/not/exist, key_file: /nope}\n").diag.ok());
}

TEST(TlsClientConfigTest, KeysAndValidation) {
  Parsed p = ParseClient(R"(
tls:
  insecure: true
  insecure_skip_verify: true
  ca_file: /ca.pem
  cert_file: /c.pem
  key_file: /k.pem
  server_name_override: upstream.internal
)");
  ASSERT_TRUE(p.diag.ok()) << p.diag.Format();
  EXPECT_TRUE(p.client.insecure);
  EXPECT_TRUE(p.client.insecure_skip_verify);
  EXPECT_EQ(p.client.ca_file, "/ca.pem");
  EXPECT_EQ(p.client.cert_file, "/c.pem");
  EXPECT_EQ(p.client.key_file, "/k.pem");
  EXPECT_EQ(p.client.server_name_override, "upstream.internal");
  EXPECT_TRUE(ParseClient("tls: {cert_file: /c}\n").Has("both certificate and key"));
  EXPECT_TRUE(ParseClient("tls: {}\n").diag.ok());
}

TEST(TlsVersionTest, Numbers) {
  EXPECT_EQ(TlsVersionNumber(""), 0);
  EXPECT_EQ(TlsVersionNumber("1.0"), 0x0301);
  EXPECT_EQ(TlsVersionNumber("1.3"), 0x0304);
  EXPECT_EQ(TlsVersionNumber("1.4"), -1);
}

TEST(LoadTlsServerPemTest, ReadsAndChecksTheFiles) {
  ::otlpd::testing::TempDir dir;
  std::string error;
  auto certs = ::otlpd::testing::MakeTestCerts(dir.path(), &error);
  ASSERT_TRUE(certs.has_value()) << error;
  TlsServerSettings s;
  s.cert_file = certs->server_cert;
  s.key_file = certs->server_key;
  s.client_ca_file = certs->ca_cert;
  absl::StatusOr<TlsServerPem> pem = LoadTlsServerPem(s);
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_EQ(pem->cert_chain, ::otlpd::testing::ReadFileOrEmpty(certs->server_cert));
  EXPECT_EQ(pem->client_ca, ::otlpd::testing::ReadFileOrEmpty(certs->ca_cert));

  TlsServerSettings missing = s;
  missing.key_file = dir.File("absent.key");
  EXPECT_TRUE(absl::StrContains(LoadTlsServerPem(missing).status().message(), "absent.key"));

  TlsServerSettings mismatch = s;
  mismatch.key_file = certs->client_key;
  EXPECT_TRUE(absl::StrContains(LoadTlsServerPem(mismatch).status().message(), "does not match"));

  TlsServerSettings not_pem = s;
  not_pem.cert_file = dir.Write("garbage.pem", "garbage");
  EXPECT_TRUE(absl::StrContains(LoadTlsServerPem(not_pem).status().message(), "no certificate"));

  TlsServerSettings bad_ca = s;
  bad_ca.client_ca_file = dir.Write("garbage-ca.pem", "garbage");
  EXPECT_TRUE(absl::StrContains(LoadTlsServerPem(bad_ca).status().message(), "client CA"));
}

}  // namespace
}  // namespace otlpd
