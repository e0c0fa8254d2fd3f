// The security features end to end, through the daemon as a process with real
// certificates (openssl), real sockets and real clients (gRPC C++, libcurl):
//  - receiver TLS and mTLS on both protocols, min_version on HTTP;
//  - receiver auth with bearertokenauth and basicauth (401 / UNAUTHENTICATED, nothing of a
//    refused request reaching the exporter, no token in the logs even at debug level);
//  - CORS preflights and actual requests, answered before auth;
//  - exporters otlp/otlphttp over TLS, mTLS and server_name_override, with bearer tokens,
//    into a second otlpd;
//  - include_metadata + headers_setter (+ batch metadata_keys) into in-test upstreams.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/otlp_json.h"
#include "google/rpc/status.pb.h"
#include "testing/certs.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"
#include "testing/prometheus.h"
#include "testing/upstream.h"
#include "testing/wait.h"

namespace otlpd::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Distinctive, so that finding them in a log cannot be a coincidence.
constexpr char kToken[] = "otlpd-SeCrEt-t0ken-7f3a9c1e5b";
constexpr char kWrongToken[] = "otlpd-WrOnG-t0ken-0d4e8b2a6c";

constexpr char kProto[] = "Content-Type: application/x-protobuf";
constexpr char kJson[] = "Content-Type: application/json";

// A failing handshake fails fast; no need to wait the default 15 s for it.
constexpr absl::Duration kRefusedTimeout = absl::Seconds(5);

TracesRequest Traces(uint64_t seed, const std::string& service = "otlpd-test") {
  SampleOptions options;
  options.seed = seed;
  options.service_name = service;
  return MakeTraces(options);
}

// Compares as multisets (the order of lines in a sink is not what these tests are about).
template <class Request>
void ExpectSameRequests(const std::vector<Request>& sent, const std::vector<Request>& got) {
  std::vector<std::string> a, b;
  for (const auto& r : sent) a.push_back(r.SerializeAsString());
  for (const auto& r : got) b.push_back(r.SerializeAsString());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a.size(), b.size()) << "sent " << a.size() << " requests, sink has " << b.size();
  EXPECT_TRUE(a == b) << "the sink does not hold exactly the accepted requests";
}

// Waits (bounded) for `sent.size()` lines in the traces sink, lets extra lines show up, and
// checks the sink holds exactly `sent`.
void ExpectTracesSink(const std::string& path, const std::vector<TracesRequest>& sent) {
  WaitForLines(path, sent.size());
  absl::StatusOr<std::vector<TracesRequest>> got = ReadTracesFile(path);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRequests(sent, *got);
}

HttpResult Post(const std::string& url, const std::string& body,
                const std::vector<std::string>& headers, const HttpClientTls& tls = {},
                absl::Duration timeout = absl::Seconds(15)) {
  HttpClient client;
  client.set_tls(tls);
  return client.Post(url, body, headers, timeout);
}

// The google.rpc.Status of an OTLP/HTTP error answer, decoded per its Content-Type.
std::optional<google::rpc::Status> ErrorStatus(const HttpResult& r) {
  const std::string* type = r.Header("content-type");
  if (type == nullptr) return std::nullopt;
  google::rpc::Status status;
  if (absl::StartsWith(*type, "application/x-protobuf")) {
    if (!status.ParseFromString(r.body)) return std::nullopt;
    return status;
  }
  if (absl::StartsWith(*type, "application/json")) {
    if (!DecodeOtlpJson(r.body, &status).ok()) return std::nullopt;
    return status;
  }
  return std::nullopt;
}

// The parts of a daemon config with otlp receiver -> file sinks (one per signal, as
// FileSinkConfig writes them). Blocks are YAML with their final indentation.
struct SinkConfig {
  // Keys under protocols.grpc / protocols.http next to the endpoint (indented by 8);
  // nullopt leaves that protocol out.
  std::optional<std::string> grpc = "";
  std::optional<std::string> http = "";
  std::string extensions;     // under the top-level "extensions:" (indented by 2)
  std::string extension_ids;  // e.g. "[bearertokenauth]"; "" for none
  std::string log_level = "info";
};

std::string Yaml(const SinkConfig& c) {
  std::string yaml = "receivers:\n  otlp:\n    protocols:\n";
  if (c.grpc) {
    absl::StrAppend(&yaml, "      grpc:\n        endpoint: 127.0.0.1:{{GRPC_PORT}}\n", *c.grpc);
  }
  if (c.http) {
    absl::StrAppend(&yaml, "      http:\n        endpoint: 127.0.0.1:{{HTTP_PORT}}\n", *c.http);
  }
  if (!c.extensions.empty()) absl::StrAppend(&yaml, "extensions:\n", c.extensions);
  absl::StrAppend(&yaml, R"(exporters:
  file/traces:
    path: {{DIR}}/traces.jsonl
  file/metrics:
    path: {{DIR}}/metrics.jsonl
  file/logs:
    path: {{DIR}}/logs.jsonl
service:
)");
  if (!c.extension_ids.empty()) absl::StrAppend(&yaml, "  extensions: ", c.extension_ids, "\n");
  absl::StrAppend(&yaml, "  telemetry:\n    logs:\n      level: ", c.log_level, R"(
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file/traces]
    metrics:
      receivers: [otlp]
      exporters: [file/metrics]
    logs:
      receivers: [otlp]
      exporters: [file/logs]
)");
  return yaml;
}

constexpr char kServerTls[] = R"(        tls:
          cert_file: {{SERVER_CERT}}
          key_file: {{SERVER_KEY}}
)";
constexpr char kServerMtls[] = R"(        tls:
          cert_file: {{SERVER_CERT}}
          key_file: {{SERVER_KEY}}
          client_ca_file: {{CA}}
)";
constexpr char kBearerAuth[] = R"(        auth:
          authenticator: bearertokenauth
)";
constexpr char kBearerServer[] = R"(  bearertokenauth:
    token: {{TOKEN}}
)";

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cert_dir_ = new TempDir("otlpd-security-certs");
    std::optional<TestCerts> certs = MakeTestCerts(cert_dir_->path(), cert_error_);
    if (!certs) return;
    named_cert_ = new std::string(cert_dir_->File("upstream-test.pem"));
    named_key_ = new std::string(cert_dir_->File("upstream-test.key"));
    if (!IssueServerCertForName(*certs, "upstream.test", *named_cert_, *named_key_, cert_error_)) {
      return;
    }
    certs_ = new TestCerts(*certs);
  }
  static void TearDownTestSuite() {
    delete certs_;
    delete named_cert_;
    delete named_key_;
    delete cert_dir_;
    certs_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(certs_, nullptr) << "cannot make certificates: " << *cert_error_;
  }

  static const TestCerts& certs() { return *certs_; }

  // Fresh ports, the certificate paths and the token, for Substitute.
  static std::map<std::string, std::string> Vars() {
    std::map<std::string, std::string> vars = PortVars();
    vars["CA"] = certs_->ca_cert;
    vars["SERVER_CERT"] = certs_->server_cert;
    vars["SERVER_KEY"] = certs_->server_key;
    vars["CLIENT_CERT"] = certs_->client_cert;
    vars["CLIENT_KEY"] = certs_->client_key;
    vars["NAMED_CERT"] = *named_cert_;
    vars["NAMED_KEY"] = *named_key_;
    vars["TOKEN"] = kToken;
    vars["WRONG_TOKEN"] = kWrongToken;
    return vars;
  }

  // Starts `daemon` with `yaml` and waits for its receiver ports.
  static void Start(DaemonProcess* daemon, const std::string& yaml,
                    const std::map<std::string, std::string>& vars, bool grpc = true,
                    bool http = true) {
    ASSERT_TRUE(daemon->StartWithConfig(yaml, vars).ok());
    if (grpc) {
      ASSERT_TRUE(daemon->WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon->Stderr();
    }
    if (http) {
      ASSERT_TRUE(daemon->WaitForPort(PortOf(vars, "HTTP_PORT"))) << daemon->Stderr();
    }
  }

  static GrpcClientTls ClientTls(bool with_cert = false) {
    GrpcClientTls tls;
    tls.ca_file = certs_->ca_cert;
    if (with_cert) {
      tls.cert_file = certs_->client_cert;
      tls.key_file = certs_->client_key;
    }
    return tls;
  }
  static HttpClientTls HttpTls(bool with_cert = false) {
    HttpClientTls tls;
    tls.ca_file = certs_->ca_cert;
    if (with_cert) {
      tls.cert_file = certs_->client_cert;
      tls.key_file = certs_->client_key;
    }
    return tls;
  }

  static inline TempDir* cert_dir_ = nullptr;
  static inline TestCerts* certs_ = nullptr;
  static inline std::string* named_cert_ = nullptr;
  static inline std::string* named_key_ = nullptr;
  static inline std::string* cert_error_ = new std::string;
};

// ---------------------------------------------------------------------------------------
// 1. TLS on both receiver protocols.

TEST_F(SecurityTest, ReceiverTlsOnBothProtocols) {
  auto vars = Vars();
  DaemonProcess d("tls");
  SinkConfig config;
  config.grpc = kServerTls;
  config.http = kServerTls;
  ASSERT_NO_FATAL_FAILURE(Start(&d, Yaml(config), vars));
  const int grpc_port = PortOf(vars, "GRPC_PORT");
  const int http_port = PortOf(vars, "HTTP_PORT");
  std::vector<TracesRequest> accepted;

  {  // gRPC with the CA: OK.
    OtlpGrpcClient client(grpc_port, ClientTls());
    accepted.push_back(Traces(1));
    grpc::Status s = client.Export(accepted.back());
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message() << "\n" << d.Stderr();
  }
  {  // HTTPS with the CA: 200, protobuf and JSON.
    accepted.push_back(Traces(2));
    HttpResult r = Post(LocalHttpsUrl(http_port, "/v1/traces"), accepted.back().SerializeAsString(),
                        {kProto}, HttpTls());
    EXPECT_EQ(r.status, 200) << r.error << " " << r.body << "\n" << d.Stderr();
    accepted.push_back(Traces(3));
    r = Post(LocalHttpsUrl(http_port, "/v1/traces"), EncodeOtlpJson(accepted.back()), {kJson},
             HttpTls());
    EXPECT_EQ(r.status, 200) << r.error << " " << r.body;
  }
  {  // A client that offers at most TLS 1.2 is fine by default (min_version 1.2).
    HttpClientTls tls12 = HttpTls();
    tls12.max_version = "1.2";
    accepted.push_back(Traces(4));
    HttpResult r = Post(LocalHttpsUrl(http_port, "/v1/traces"), accepted.back().SerializeAsString(),
                        {kProto}, tls12);
    EXPECT_EQ(r.status, 200) << r.error << " " << r.body;
  }

  // Refused: plaintext on the TLS ports, and TLS without trusting the test CA.
  {
    OtlpGrpcClient plain(grpc_port);
    GrpcCallOptions options;
    options.timeout = kRefusedTimeout;
    grpc::Status s = plain.Export(Traces(101), nullptr, options);
    EXPECT_FALSE(s.ok()) << "plaintext gRPC against the TLS port was accepted";
    OtlpGrpcClient untrusting(grpc_port, GrpcClientTls{});  // system roots only
    s = untrusting.Export(Traces(102), nullptr, options);
    EXPECT_FALSE(s.ok()) << "a client that does not trust the test CA got through";
  }
  {
    HttpResult r = Post(LocalUrl(http_port, "/v1/traces"), Traces(103).SerializeAsString(),
                        {kProto}, {}, kRefusedTimeout);
    EXPECT_NE(r.status, 200) << "plaintext HTTP against the TLS port was accepted";
    HttpClientTls system_roots;  // libcurl's default CA bundle, without the test CA
    r = Post(LocalHttpsUrl(http_port, "/v1/traces"), Traces(104).SerializeAsString(), {kProto},
             system_roots, kRefusedTimeout);
    EXPECT_EQ(r.status, 0) << "the server certificate was accepted without the test CA";
    EXPECT_FALSE(r.error.empty());
  }

  ExpectTracesSink(d.File(SinkFileName(Signal::kTraces)), accepted);
  EXPECT_EQ(d.Stop(), 0) << d.Stderr();
}

// ---------------------------------------------------------------------------------------
// 2. mTLS (client_ca_file) on both protocols.

TEST_F(SecurityTest, ReceiverMtlsRequiresAClientCertificateFromTheClientCa) {
  auto vars = Vars();
  DaemonProcess d("mtls");
  SinkConfig config;
  config.grpc = kServerMtls;
  config.http = kServerMtls;
  ASSERT_NO_FATAL_FAILURE(Start(&d, Yaml(config), vars));
  const int grpc_port = PortOf(vars, "GRPC_PORT");
  const int http_port = PortOf(vars, "HTTP_PORT");
  const std::string url = LocalHttpsUrl(http_port, "/v1/traces");
  std::vector<TracesRequest> accepted;

  {  // With the client certificate: accepted on both.
    OtlpGrpcClient client(grpc_port, ClientTls(/*with_cert=*/true));
    accepted.push_back(Traces(11));
    grpc::Status s = client.Export(accepted.back());
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message() << "\n" << d.Stderr();
    accepted.push_back(Traces(12));
    HttpResult r = Post(url, accepted.back().SerializeAsString(), {kProto}, HttpTls(true));
    EXPECT_EQ(r.status, 200) << r.error << " " << r.body << "\n" << d.Stderr();
  }
  GrpcCallOptions refused;
  refused.timeout = kRefusedTimeout;
  {  // Without a client certificate: refused on both.
    OtlpGrpcClient client(grpc_port, ClientTls(/*with_cert=*/false));
    grpc::Status s = client.Export(Traces(111), nullptr, refused);
    EXPECT_FALSE(s.ok()) << "gRPC without a client certificate was accepted";
    HttpResult r =
        Post(url, Traces(112).SerializeAsString(), {kProto}, HttpTls(false), kRefusedTimeout);
    EXPECT_NE(r.status, 200) << "HTTPS without a client certificate was accepted";
  }
  {  // With a client certificate from another CA: refused on both.
    GrpcClientTls other = ClientTls();
    other.cert_file = certs().other_client_cert;
    other.key_file = certs().other_client_key;
    OtlpGrpcClient client(grpc_port, other);
    grpc::Status s = client.Export(Traces(113), nullptr, refused);
    EXPECT_FALSE(s.ok()) << "gRPC with another CA's client certificate was accepted";
    HttpClientTls other_http = HttpTls();
    other_http.cert_file = certs().other_client_cert;
    other_http.key_file = certs().other_client_key;
    HttpResult r =
        Post(url, Traces(114).SerializeAsString(), {kProto}, other_http, kRefusedTimeout);
    EXPECT_NE(r.status, 200) << "HTTPS with another CA's client certificate was accepted";
  }

  ExpectTracesSink(d.File(SinkFileName(Signal::kTraces)), accepted);
  EXPECT_EQ(d.Stop(), 0) << d.Stderr();
}

// ---------------------------------------------------------------------------------------
// 3. min_version on HTTP.

TEST_F(SecurityTest, HttpMinVersion13RefusesATls12Client) {
  auto vars = Vars();
  DaemonProcess d("minver");
  SinkConfig config;
  config.grpc = std::nullopt;  // gRPC cannot be limited to TLS 1.3
  config.http = absl::StrCat(kServerTls, "          min_version: \"1.3\"\n");
  ASSERT_NO_FATAL_FAILURE(Start(&d, Yaml(config), vars, /*grpc=*/false));
  const std::string url = LocalHttpsUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces");

  HttpClientTls tls12 = HttpTls();
  tls12.max_version = "1.2";
  HttpResult r = Post(url, Traces(121).SerializeAsString(), {kProto}, tls12, kRefusedTimeout);
  EXPECT_EQ(r.status, 0) << "a TLS 1.2 client got an answer";
  EXPECT_FALSE(r.error.empty());

  HttpClientTls tls13 = HttpTls();
  tls13.max_version = "1.3";
  std::vector<TracesRequest> accepted = {Traces(21)};
  r = Post(url, accepted.back().SerializeAsString(), {kProto}, tls13);
  EXPECT_EQ(r.status, 200) << r.error << " " << r.body << "\n" << d.Stderr();

  ExpectTracesSink(d.File(SinkFileName(Signal::kTraces)), accepted);
  EXPECT_EQ(d.Stop(), 0) << d.Stderr();
}

// ---------------------------------------------------------------------------------------
// 4. bearertokenauth on the receiver.

TEST_F(SecurityTest, BearerTokenAuthOnBothProtocols) {
  auto vars = Vars();
  DaemonProcess d("bearer");
  SinkConfig config;
  config.grpc = kBearerAuth;
  // HTTP over TLS, as tokens should travel; a plaintext client makes the server log its
  // failed handshake at debug level, which shows that debug logging is on.
  config.http = absl::StrCat(kServerTls, kBearerAuth);
  config.extensions = kBearerServer;
  config.extension_ids = "[bearertokenauth]";
  config.log_level = "debug";  // not even debug logging may show a token
  ASSERT_NO_FATAL_FAILURE(Start(&d, Yaml(config), vars));
  const int grpc_port = PortOf(vars, "GRPC_PORT");
  const int http_port = PortOf(vars, "HTTP_PORT");
  const std::string url = LocalHttpsUrl(http_port, "/v1/traces");
  const std::string right = absl::StrCat("Bearer ", kToken);
  const std::string wrong = absl::StrCat("Bearer ", kWrongToken);
  std::vector<TracesRequest> accepted;

  OtlpGrpcClient client(grpc_port);
  {
    GrpcCallOptions options;
    options.metadata = {{"authorization", right}};
    accepted.push_back(Traces(31));
    grpc::Status s = client.Export(accepted.back(), nullptr, options);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message() << "\n" << d.Stderr();

    options.metadata = {{"authorization", wrong}};
    s = client.Export(Traces(131), nullptr, options);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
    EXPECT_THAT(s.error_message(), Not(HasSubstr(kWrongToken)));
    EXPECT_THAT(s.error_message(), Not(HasSubstr(kToken)));

    options.metadata.clear();
    s = client.Export(Traces(132), nullptr, options);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();

    options.metadata = {{"authorization", kToken}};  // without the scheme
    s = client.Export(Traces(133), nullptr, options);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  }
  {
    accepted.push_back(Traces(32));
    HttpResult r = Post(url, accepted.back().SerializeAsString(),
                        {kProto, absl::StrCat("Authorization: ", right)}, HttpTls());
    EXPECT_EQ(r.status, 200) << r.error << " " << r.body << "\n" << d.Stderr();
    accepted.push_back(Traces(33));
    r = Post(url, EncodeOtlpJson(accepted.back()), {kJson, absl::StrCat("Authorization: ", right)},
             HttpTls());
    EXPECT_EQ(r.status, 200) << r.error << " " << r.body;
    // The right token in plaintext to the TLS port: refused, and the bytes the server got
    // instead of a handshake must not end up in its log.
    r = Post(LocalUrl(http_port, "/v1/traces"), Traces(138).SerializeAsString(),
             {kProto, absl::StrCat("Authorization: ", right)}, {}, kRefusedTimeout);
    EXPECT_NE(r.status, 200);
  }
  struct Refused {
    uint64_t seed;
    bool json;
    std::optional<std::string> authorization;
  };
  for (const Refused& c : {Refused{134, false, wrong}, Refused{135, false, std::nullopt},
                           Refused{136, true, wrong}, Refused{137, true, std::nullopt}}) {
    SCOPED_TRACE(
        absl::StrCat(c.json ? "json" : "protobuf", c.authorization ? " wrong token" : " no token"));
    std::vector<std::string> headers = {c.json ? kJson : kProto};
    if (c.authorization) headers.push_back(absl::StrCat("Authorization: ", *c.authorization));
    const TracesRequest request = Traces(c.seed);
    HttpResult r = Post(url, c.json ? EncodeOtlpJson(request) : request.SerializeAsString(),
                        headers, HttpTls());
    EXPECT_EQ(r.status, 401) << r.error << " " << r.body;
    ASSERT_NE(r.Header("content-type"), nullptr);
    EXPECT_THAT(*r.Header("content-type"),
                StartsWith(c.json ? "application/json" : "application/x-protobuf"));
    std::optional<google::rpc::Status> status = ErrorStatus(r);
    ASSERT_TRUE(status.has_value()) << r.body;
    EXPECT_EQ(status->code(), 16) << status->DebugString();  // UNAUTHENTICATED
    EXPECT_FALSE(status->message().empty());
    EXPECT_THAT(r.body, Not(HasSubstr(kWrongToken)));
    EXPECT_THAT(r.body, Not(HasSubstr(kToken)));
  }

  ExpectTracesSink(d.File(SinkFileName(Signal::kTraces)), accepted);
  EXPECT_EQ(d.Stop(), 0) << d.Stderr();
  const std::string log = d.Stderr();
  EXPECT_THAT(log, HasSubstr("TLS handshake")) << "the daemon did not log at debug level:\n" << log;
  EXPECT_THAT(log, Not(HasSubstr(kToken)));
  EXPECT_THAT(log, Not(HasSubstr(kWrongToken)));
}

// ---------------------------------------------------------------------------------------
// 5. basicauth with an htpasswd file (apr1 hash made by openssl).

TEST_F(SecurityTest, BasicAuthWithHtpasswdFile) {
  auto vars = Vars();
  DaemonProcess d("basic");
  const std::string user = "otlpd-user";
  const std::string password = "c0rrect-h0rse-battery";
  const std::string hash_file = d.File("hash.txt");
  ASSERT_EQ(std::system(absl::StrCat("openssl passwd -apr1 '", password, "' >", hash_file).c_str()),
            0);
  std::string hash = ReadFileOrEmpty(hash_file);
  absl::StripTrailingAsciiWhitespace(&hash);
  ASSERT_THAT(hash, StartsWith("$apr1$"));
  vars["HTPASSWD"] = d.dir().Write("htpasswd", absl::StrCat(user, ":", hash, "\n"));

  SinkConfig config;
  config.grpc = "        auth:\n          authenticator: basicauth\n";
  config.http = *config.grpc;
  config.extensions = "  basicauth:\n    htpasswd:\n      file: {{HTPASSWD}}\n";
  config.extension_ids = "[basicauth]";
  ASSERT_NO_FATAL_FAILURE(Start(&d, Yaml(config), vars));
  const std::string url = LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces");
  auto basic = [](const std::string& u, const std::string& p) {
    return absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(u, ":", p)));
  };
  std::vector<TracesRequest> accepted;

  OtlpGrpcClient client(PortOf(vars, "GRPC_PORT"));
  GrpcCallOptions options;
  options.metadata = {{"authorization", basic(user, password)}};
  accepted.push_back(Traces(41));
  grpc::Status s = client.Export(accepted.back(), nullptr, options);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message() << "\n" << d.Stderr();
  accepted.push_back(Traces(42));
  HttpResult r = Post(url, accepted.back().SerializeAsString(),
                      {kProto, absl::StrCat("Authorization: ", basic(user, password))});
  EXPECT_EQ(r.status, 200) << r.error << " " << r.body << "\n" << d.Stderr();

  uint64_t seed = 140;
  for (const std::string& credentials :
       {basic(user, "wrong-password"), basic("nobody", password), basic(user, "")}) {
    SCOPED_TRACE(credentials);
    options.metadata = {{"authorization", credentials}};
    s = client.Export(Traces(++seed), nullptr, options);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
    r = Post(url, Traces(++seed).SerializeAsString(),
             {kProto, absl::StrCat("Authorization: ", credentials)});
    EXPECT_EQ(r.status, 401) << r.error << " " << r.body;
    std::optional<google::rpc::Status> status = ErrorStatus(r);
    ASSERT_TRUE(status.has_value()) << r.body;
    EXPECT_EQ(status->code(), 16);
  }

  ExpectTracesSink(d.File(SinkFileName(Signal::kTraces)), accepted);
  EXPECT_EQ(d.Stop(), 0) << d.Stderr();
  EXPECT_THAT(d.Stderr(), Not(HasSubstr(password)));
}

// ---------------------------------------------------------------------------------------
// 6. CORS from a browser origin, in front of auth.

TEST_F(SecurityTest, CorsPreflightAndActualRequestBeforeAuth) {
  auto vars = Vars();
  DaemonProcess d("cors");
  SinkConfig config;
  config.grpc = std::nullopt;
  config.http = absl::StrCat(kBearerAuth, R"(        cors:
          allowed_origins: ["https://*.example.com"]
          max_age: 600
)");
  config.extensions = kBearerServer;
  config.extension_ids = "[bearertokenauth]";
  ASSERT_NO_FATAL_FAILURE(Start(&d, Yaml(config), vars, /*grpc=*/false));
  const std::string url = LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces");
  const std::string origin = "https://app.example.com";
  const std::string auth = absl::StrCat("Authorization: Bearer ", kToken);

  auto preflight = [&](const std::string& from) {
    HttpClient client;
    return client.Request("OPTIONS", url, "",
                          {absl::StrCat("Origin: ", from), "Access-Control-Request-Method: POST",
                           "Access-Control-Request-Headers: content-type"});
  };
  {  // Allowed origin, no token: answered by CORS.
    HttpResult r = preflight(origin);
    EXPECT_EQ(r.status, 204) << r.error << " " << r.body << "\n" << d.Stderr();
    EXPECT_TRUE(r.body.empty()) << r.body;
    ASSERT_NE(r.Header("access-control-allow-origin"), nullptr);
    EXPECT_EQ(*r.Header("access-control-allow-origin"), origin);
    ASSERT_NE(r.Header("access-control-allow-methods"), nullptr);
    EXPECT_THAT(*r.Header("access-control-allow-methods"), HasSubstr("POST"));
    ASSERT_NE(r.Header("access-control-allow-headers"), nullptr);
    EXPECT_EQ(absl::AsciiStrToLower(*r.Header("access-control-allow-headers")), "content-type");
    ASSERT_NE(r.Header("access-control-max-age"), nullptr);
    EXPECT_EQ(*r.Header("access-control-max-age"), "600");
    ASSERT_NE(r.Header("access-control-allow-credentials"), nullptr);
    EXPECT_EQ(*r.Header("access-control-allow-credentials"), "true");
    ASSERT_NE(r.Header("vary"), nullptr);
    EXPECT_THAT(*r.Header("vary"), HasSubstr("Origin"));
  }
  for (const char* other :
       {"https://evil.example.org", "https://example.com", "http://app.example.com"}) {
    SCOPED_TRACE(other);
    HttpResult r = preflight(other);
    // Still answered by CORS (never reaching auth), but without any permission.
    EXPECT_EQ(r.status, 204) << r.error << " " << r.body;
    EXPECT_EQ(r.Header("access-control-allow-origin"), nullptr)
        << *r.Header("access-control-allow-origin");
    EXPECT_EQ(r.Header("access-control-allow-credentials"), nullptr);
  }

  std::vector<TracesRequest> accepted;
  {  // The actual request from the allowed origin, with the token.
    accepted.push_back(Traces(61));
    HttpResult r = Post(url, accepted.back().SerializeAsString(),
                        {kProto, auth, absl::StrCat("Origin: ", origin)});
    EXPECT_EQ(r.status, 200) << r.error << " " << r.body << "\n" << d.Stderr();
    ASSERT_NE(r.Header("access-control-allow-origin"), nullptr);
    EXPECT_EQ(*r.Header("access-control-allow-origin"), origin);
    ASSERT_NE(r.Header("access-control-allow-credentials"), nullptr);
    EXPECT_EQ(*r.Header("access-control-allow-credentials"), "true");
  }
  {  // A disallowed origin is served, without CORS permission for the browser.
    accepted.push_back(Traces(62));
    HttpResult r = Post(url, accepted.back().SerializeAsString(),
                        {kProto, auth, "Origin: https://evil.example.org"});
    EXPECT_EQ(r.status, 200) << r.error << " " << r.body;
    EXPECT_EQ(r.Header("access-control-allow-origin"), nullptr);
  }
  {  // Without the token: 401, and the browser may read it (CORS headers on errors too).
    HttpResult r =
        Post(url, Traces(161).SerializeAsString(), {kProto, absl::StrCat("Origin: ", origin)});
    EXPECT_EQ(r.status, 401) << r.error << " " << r.body;
    ASSERT_NE(r.Header("access-control-allow-origin"), nullptr);
    EXPECT_EQ(*r.Header("access-control-allow-origin"), origin);
  }

  ExpectTracesSink(d.File(SinkFileName(Signal::kTraces)), accepted);
  EXPECT_EQ(d.Stop(), 0) << d.Stderr();
}

// ---------------------------------------------------------------------------------------
// 7. Exporters over TLS into another otlpd.
//
// Daemon A (plain receiver) exports traces with otlp/ok, logs with otlphttp/ok, and
// metrics with otlp/bad and otlphttp/bad, whose settings lack what B requires. Daemon B
// receives with the case's security settings and writes to files: it must hold exactly
// the traces and logs sent to A and no metrics, and A must count the bad sends as failed.

struct ExportCase {
  std::string name;
  std::string b_grpc, b_http;  // B's receiver settings (indented by 8)
  std::string b_extensions, b_extension_ids;
  std::string a_extensions, a_extension_ids;
  std::string exporters;  // A's exporters otlp/ok, otlphttp/ok, otlp/bad, otlphttp/bad
};

std::string ExportCaseTls(const std::string& ca = "{{CA}}", const std::string& more = "") {
  return absl::StrCat("    tls:\n      ca_file: ", ca, "\n", more);
}

constexpr char kNoRetry[] = "    retry_on_failure:\n      enabled: false\n";

const ExportCase kExportCases[] = {
    {"TlsAndBearerToken", absl::StrCat(kServerTls, kBearerAuth),
     absl::StrCat(kServerTls, kBearerAuth), kBearerServer, "[bearertokenauth]",
     "  bearertokenauth:\n    token: {{TOKEN}}\n"
     "  bearertokenauth/wrong:\n    token: {{WRONG_TOKEN}}\n",
     "[bearertokenauth, bearertokenauth/wrong]",
     absl::StrCat("  otlp/ok:\n    endpoint: 127.0.0.1:{{B_GRPC_PORT}}\n", ExportCaseTls(),
                  "    auth:\n      authenticator: bearertokenauth\n",
                  "  otlphttp/ok:\n    endpoint: https://127.0.0.1:{{B_HTTP_PORT}}\n",
                  ExportCaseTls(), "    auth:\n      authenticator: bearertokenauth\n",
                  "  otlp/bad:\n    endpoint: 127.0.0.1:{{B_GRPC_PORT}}\n", ExportCaseTls(),
                  "    auth:\n      authenticator: bearertokenauth/wrong\n", kNoRetry,
                  "  otlphttp/bad:\n    endpoint: https://127.0.0.1:{{B_HTTP_PORT}}\n",
                  ExportCaseTls(), "    auth:\n      authenticator: bearertokenauth/wrong\n",
                  kNoRetry)},
    {"MutualTls", kServerMtls, kServerMtls, "", "", "", "",
     absl::StrCat(
         "  otlp/ok:\n    endpoint: 127.0.0.1:{{B_GRPC_PORT}}\n",
         ExportCaseTls("{{CA}}",
                       "      cert_file: {{CLIENT_CERT}}\n      key_file: {{CLIENT_KEY}}\n"),
         "  otlphttp/ok:\n    endpoint: https://127.0.0.1:{{B_HTTP_PORT}}\n",
         ExportCaseTls("{{CA}}",
                       "      cert_file: {{CLIENT_CERT}}\n      key_file: {{CLIENT_KEY}}\n"),
         "  otlp/bad:\n    endpoint: 127.0.0.1:{{B_GRPC_PORT}}\n", ExportCaseTls(), kNoRetry,
         "  otlphttp/bad:\n    endpoint: https://127.0.0.1:{{B_HTTP_PORT}}\n", ExportCaseTls(),
         kNoRetry)},
    // B's certificate names only upstream.test; A connects to 127.0.0.1.
    {"ServerNameOverride",
     "        tls:\n          cert_file: {{NAMED_CERT}}\n          key_file: {{NAMED_KEY}}\n",
     "        tls:\n          cert_file: {{NAMED_CERT}}\n          key_file: {{NAMED_KEY}}\n", "",
     "", "", "",
     absl::StrCat("  otlp/ok:\n    endpoint: 127.0.0.1:{{B_GRPC_PORT}}\n",
                  ExportCaseTls("{{CA}}", "      server_name_override: upstream.test\n"),
                  "  otlphttp/ok:\n    endpoint: https://127.0.0.1:{{B_HTTP_PORT}}\n",
                  ExportCaseTls("{{CA}}", "      server_name_override: upstream.test\n"),
                  "  otlp/bad:\n    endpoint: 127.0.0.1:{{B_GRPC_PORT}}\n", ExportCaseTls(),
                  kNoRetry, "  otlphttp/bad:\n    endpoint: https://127.0.0.1:{{B_HTTP_PORT}}\n",
                  ExportCaseTls(), kNoRetry)},
};

// Names the case in gtest's messages instead of dumping its bytes.
void PrintTo(const ExportCase& c, std::ostream* os) { *os << c.name; }

class ExporterSecurityTest : public SecurityTest,
                             public ::testing::WithParamInterface<ExportCase> {};

TEST_P(ExporterSecurityTest, OtlpdToOtlpd) {
  const ExportCase& c = GetParam();
  auto b_vars = Vars();
  DaemonProcess b("b");
  SinkConfig b_config;
  b_config.grpc = c.b_grpc;
  b_config.http = c.b_http;
  b_config.extensions = c.b_extensions;
  b_config.extension_ids = c.b_extension_ids;
  b_config.log_level = "debug";
  ASSERT_NO_FATAL_FAILURE(Start(&b, Yaml(b_config), b_vars));

  auto a_vars = Vars();
  a_vars["B_GRPC_PORT"] = b_vars["GRPC_PORT"];
  a_vars["B_HTTP_PORT"] = b_vars["HTTP_PORT"];
  std::string a_yaml = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
)";
  if (!c.a_extensions.empty()) absl::StrAppend(&a_yaml, "extensions:\n", c.a_extensions);
  absl::StrAppend(&a_yaml, "exporters:\n", c.exporters, "service:\n");
  if (!c.a_extension_ids.empty()) {
    absl::StrAppend(&a_yaml, "  extensions: ", c.a_extension_ids, "\n");
  }
  absl::StrAppend(&a_yaml, R"(  telemetry:
    logs:
      level: debug
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp/ok]
    logs:
      receivers: [otlp]
      exporters: [otlphttp/ok]
    metrics:
      receivers: [otlp]
      exporters: [otlp/bad, otlphttp/bad]
)");
  DaemonProcess a("a");
  ASSERT_NO_FATAL_FAILURE(Start(&a, a_yaml, a_vars));

  OtlpGrpcClient client(PortOf(a_vars, "GRPC_PORT"));
  std::vector<TracesRequest> traces;
  std::vector<LogsRequest> logs;
  for (int i = 0; i < 2; ++i) {
    SampleOptions options;
    options.seed = 70 + i;
    traces.push_back(MakeTraces(options));
    logs.push_back(MakeLogs(options));
    grpc::Status s = client.Export(traces.back());
    ASSERT_TRUE(s.ok()) << s.error_message();
    s = client.Export(logs.back());
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  SampleOptions options;
  options.seed = 170;
  grpc::Status s = client.Export(MakeMetrics(options));
  ASSERT_TRUE(s.ok()) << s.error_message();  // queued; the sends fail later

  // The bad exporters fail (no retry) and A counts it.
  const int metrics_port = PortOf(a_vars, "METRICS_PORT");
  std::string text;
  auto failed = [&](const char* exporter) {
    return SelfMetric(text, "otelcol_exporter_send_failed_metric_points", {{"exporter", exporter}})
        .value_or(0);
  };
  EXPECT_TRUE(WaitUntil(
      [&] {
        text = ScrapeMetrics(metrics_port);
        return failed("otlp/bad") > 0 && failed("otlphttp/bad") > 0;
      },
      absl::Seconds(15)))
      << "otlp/bad " << failed("otlp/bad") << ", otlphttp/bad " << failed("otlphttp/bad") << "\n"
      << a.Stderr();

  const std::string traces_file = b.File(SinkFileName(Signal::kTraces));
  const std::string logs_file = b.File(SinkFileName(Signal::kLogs));
  WaitForLines(traces_file, traces.size());
  WaitForLines(logs_file, logs.size());
  absl::StatusOr<std::vector<TracesRequest>> got_traces = ReadTracesFile(traces_file);
  absl::StatusOr<std::vector<LogsRequest>> got_logs = ReadLogsFile(logs_file);
  ASSERT_TRUE(got_traces.ok()) << got_traces.status();
  ASSERT_TRUE(got_logs.ok()) << got_logs.status();
  {
    SCOPED_TRACE("traces via otlp/ok");
    ExpectSameRequests(traces, *got_traces);
  }
  {
    SCOPED_TRACE("logs via otlphttp/ok");
    ExpectSameRequests(logs, *got_logs);
  }
  EXPECT_TRUE(ReadCompleteLines(b.File(SinkFileName(Signal::kMetrics))).empty())
      << "data from an exporter without the required credentials reached B";

  EXPECT_EQ(a.Stop(), 0) << a.Stderr();
  EXPECT_EQ(b.Stop(), 0) << b.Stderr();
  if (HasFailure()) {
    ADD_FAILURE() << "A:\n" << a.Stderr() << "\nB:\n" << b.Stderr();
  }
  for (DaemonProcess* d : {&a, &b}) {
    EXPECT_THAT(d->Stderr(), Not(HasSubstr(kToken)));
    EXPECT_THAT(d->Stderr(), Not(HasSubstr(kWrongToken)));
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ExporterSecurityTest, ::testing::ValuesIn(kExportCases),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------
// 8. include_metadata + headers_setter (+ batch metadata_keys) into in-test upstreams.

// A's config: receiver with include_metadata, headers_setter copying x-tenant into
// X-Scope-OrgID on otlphttp/up (-> HttpUpstream) and otlp/up (-> GrpcUpstream); traces go
// to both, through `processors`.
std::string TenantConfig(const std::string& processors, const std::string& processor_definitions) {
  std::string yaml = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
        include_metadata: true
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
        include_metadata: true
)";
  if (!processor_definitions.empty()) {
    absl::StrAppend(&yaml, "processors:\n", processor_definitions);
  }
  absl::StrAppend(&yaml, R"(extensions:
  headers_setter:
    headers:
      - key: X-Scope-OrgID
        from_context: x-tenant
exporters:
  otlphttp/up:
    endpoint: http://127.0.0.1:{{UP_HTTP_PORT}}
    auth:
      authenticator: headers_setter
  otlp/up:
    endpoint: 127.0.0.1:{{UP_GRPC_PORT}}
    tls:
      insecure: true
    auth:
      authenticator: headers_setter
service:
  extensions: [headers_setter]
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: )",
                  processors, R"(
      exporters: [otlphttp/up, otlp/up]
)");
  return yaml;
}

struct Upstreams {
  HttpUpstream http;
  GrpcUpstream grpc;

  void AddPorts(std::map<std::string, std::string>* vars) const {
    (*vars)["UP_HTTP_PORT"] = absl::StrCat(http.port());
    (*vars)["UP_GRPC_PORT"] = absl::StrCat(grpc.port());
  }
};

TEST_F(SecurityTest, HeadersSetterCopiesClientMetadataToTheUpstream) {
  Upstreams up;
  auto vars = Vars();
  up.AddPorts(&vars);
  DaemonProcess a("tenant");
  ASSERT_NO_FATAL_FAILURE(Start(&a, TenantConfig("[]", ""), vars));

  // Serialized request -> the tenant it was sent with ("" = none).
  std::map<std::string, std::string> tenant_of;
  const TracesRequest acme = Traces(81), globex = Traces(82), nobody = Traces(83);
  tenant_of[acme.SerializeAsString()] = "acme";
  tenant_of[globex.SerializeAsString()] = "globex";
  tenant_of[nobody.SerializeAsString()] = "";

  HttpResult r = Post(LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces"), acme.SerializeAsString(),
                      {kProto, "X-Tenant: acme"});
  ASSERT_EQ(r.status, 200) << r.error << " " << r.body << "\n" << a.Stderr();
  OtlpGrpcClient client(PortOf(vars, "GRPC_PORT"));
  GrpcCallOptions options;
  options.metadata = {{"x-tenant", "globex"}};
  grpc::Status s = client.Export(globex, nullptr, options);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << a.Stderr();
  r = Post(LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces"), nobody.SerializeAsString(), {kProto});
  ASSERT_EQ(r.status, 200) << r.error << " " << r.body;

  ASSERT_TRUE(
      WaitUntil([&] { return up.http.accepted_count() >= 3 && up.grpc.accepted_count() >= 3; },
                absl::Seconds(15)))
      << "http " << up.http.accepted_count() << ", grpc " << up.grpc.accepted_count() << "\n"
      << a.Stderr();
  for (const auto& [name, requests] :
       {std::pair{"otlphttp", up.http.requests()}, std::pair{"otlp", up.grpc.requests()}}) {
    SCOPED_TRACE(name);
    ASSERT_EQ(requests.size(), 3u);
    std::set<std::string> seen;
    for (const UpstreamRequest& request : requests) {
      auto it = tenant_of.find(request.payload);
      ASSERT_NE(it, tenant_of.end()) << "the upstream got a request that was not sent";
      seen.insert(it->second);
      const std::string* org = request.Header("x-scope-orgid");
      if (it->second.empty()) {
        EXPECT_EQ(org, nullptr) << "X-Scope-OrgID without a tenant: " << *org;
      } else {
        ASSERT_NE(org, nullptr) << "no X-Scope-OrgID for tenant " << it->second;
        EXPECT_EQ(*org, it->second);
      }
    }
    EXPECT_EQ(seen.size(), 3u);
  }
  EXPECT_EQ(a.Stop(), 0) << a.Stderr();
}

// With `batch` (metadata_keys: [x-tenant]) between receiver and exporters, requests of two
// tenants that wait together are merged per tenant, never across tenants, and each merged
// batch is sent with its own tenant's header.
TEST_F(SecurityTest, BatchByTenantKeepsEachTenantsHeader) {
  // The batch processor passes a request on at once while its tenant has nothing in flight
  // downstream, and merges what arrives while a send is in flight. So the upstreams hold
  // the first request of each tenant long enough for the next ones to pile up; the
  // exporters send synchronously (no queue), which keeps the batch processor waiting.
  constexpr absl::Duration kHold = absl::Milliseconds(1500);
  HttpUpstream http_up([&](int index, const UpstreamRequest&) {
    HttpUpstream::Answer answer;
    if (index < 2) answer.delay = kHold;
    return answer;
  });
  GrpcUpstream grpc_up([&](int index, const UpstreamRequest&) {
    if (index < 2) absl::SleepFor(kHold);
    return grpc::Status::OK;
  });
  auto vars = Vars();
  vars["UP_HTTP_PORT"] = absl::StrCat(http_up.port());
  vars["UP_GRPC_PORT"] = absl::StrCat(grpc_up.port());
  std::string yaml =
      TenantConfig("[batch]", "  batch:\n    timeout: 5s\n    metadata_keys: [x-tenant]\n");
  yaml = absl::StrReplaceAll(yaml, {{"      authenticator: headers_setter\n",
                                     "      authenticator: headers_setter\n"
                                     "    sending_queue:\n      enabled: false\n"}});
  DaemonProcess a("tenant-batch");
  ASSERT_NO_FATAL_FAILURE(Start(&a, yaml, vars));

  struct Send {
    std::string tenant;
    bool grpc;
    TracesRequest request;
  };
  // Wave 1: one request per tenant (held upstream); wave 2: two more per tenant, over
  // both transports, sent while wave 1 is held.
  const std::vector<Send> wave1 = {{"acme", false, Traces(91, "acme")},
                                   {"globex", true, Traces(92, "globex")}};
  const std::vector<Send> wave2 = {{"acme", false, Traces(93, "acme")},
                                   {"acme", true, Traces(94, "acme")},
                                   {"globex", false, Traces(95, "globex")},
                                   {"globex", true, Traces(96, "globex")}};
  OtlpGrpcClient client(PortOf(vars, "GRPC_PORT"));
  auto send = [&](const Send& s) {
    if (s.grpc) {
      GrpcCallOptions options;
      options.metadata = {{"x-tenant", s.tenant}};
      grpc::Status status = client.Export(s.request, nullptr, options);
      return status.ok() ? 200 : -static_cast<int>(status.error_code());
    }
    return Post(LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces"), s.request.SerializeAsString(),
                {kProto, absl::StrCat("X-Tenant: ", s.tenant)})
        .status;
  };
  std::vector<int> answers(wave1.size() + wave2.size(), -1);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < wave1.size(); ++i) {
    threads.emplace_back([&, i] { answers[i] = send(wave1[i]); });
  }
  const bool held =
      WaitUntil([&] { return http_up.requests().size() >= 2 && grpc_up.requests().size() >= 2; },
                absl::Seconds(10));
  if (held) {
    for (size_t i = 0; i < wave2.size(); ++i) {
      threads.emplace_back([&, i] { answers[wave1.size() + i] = send(wave2[i]); });
    }
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(held) << "wave 1 did not reach the upstreams\n" << a.Stderr();
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(answers[i], 200) << "request " << i << "\n" << a.Stderr();
  }
  // Every request was answered after its data reached both upstreams (no queue).

  std::map<std::string, size_t> spans_sent;
  for (const auto* wave : {&wave1, &wave2}) {
    for (const Send& s : *wave) spans_sent[s.tenant] += CountItems(s.request);
  }
  for (const auto& [name, requests] :
       {std::pair{"otlphttp", http_up.requests()}, std::pair{"otlp", grpc_up.requests()}}) {
    SCOPED_TRACE(name);
    // Wave 1 as it was sent, then wave 2 as one merged batch per tenant.
    EXPECT_EQ(requests.size(), 4u);
    std::map<std::string, size_t> spans_got;
    std::map<std::string, size_t> largest_batch;  // spans
    for (const UpstreamRequest& request : requests) {
      const std::string* org = request.Header("x-scope-orgid");
      ASSERT_NE(org, nullptr) << "a batch without X-Scope-OrgID";
      TracesRequest traces;
      ASSERT_TRUE(traces.ParseFromString(request.payload));
      for (const auto& rs : traces.resource_spans()) {
        EXPECT_EQ(ResourceAttribute(rs.resource(), "service.name"), *org)
            << "a batch for tenant " << *org << " carries another tenant's data";
      }
      spans_got[*org] += CountItems(traces);
      largest_batch[*org] = std::max(largest_batch[*org], CountItems(traces));
    }
    EXPECT_EQ(spans_got, spans_sent);
    // A batch with both wave-2 requests of a tenant shows the merge happened.
    EXPECT_EQ(largest_batch["acme"], CountItems(wave2[0].request) + CountItems(wave2[1].request));
    EXPECT_EQ(largest_batch["globex"], CountItems(wave2[2].request) + CountItems(wave2[3].request));
  }
  EXPECT_EQ(a.Stop(), 0) << a.Stderr();
}

}  // namespace
}  // namespace otlpd::testing
