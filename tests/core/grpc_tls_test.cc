#include "core/grpc_tls.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "testing/certs.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace otlpd {
namespace {

namespace trace_v1 = opentelemetry::proto::collector::trace::v1;

class OkTraceService final : public trace_v1::TraceService::Service {
 public:
  grpc::Status Export(grpc::ServerContext*, const trace_v1::ExportTraceServiceRequest*,
                      trace_v1::ExportTraceServiceResponse*) override {
    return grpc::Status::OK;
  }
};

class GrpcTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    auto certs = ::otlpd::testing::MakeTestCerts(dir_.path(), &error);
    ASSERT_TRUE(certs.has_value()) << error;
    certs_ = *certs;
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  TlsServerSettings ServerTls() const {
    TlsServerSettings s;
    s.cert_file = certs_.server_cert;
    s.key_file = certs_.server_key;
    return s;
  }

  // Starts the server; false if the credentials could not be made.
  void StartServer(const TlsServerSettings& settings) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
        MakeGrpcServerCredentials(settings);
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  // One Export call over a new channel; the peer certificate PEM in *peer_cert if given.
  grpc::Status Call(const TlsClientSettings& client, bool https = false,
                    std::string* peer_cert = nullptr) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
        MakeGrpcChannelCredentials(client, https);
    if (!creds.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no credentials");
    grpc::ChannelArguments args;
    ApplyGrpcChannelTlsArgs(client, &args);
    // A fresh connection per call (reload tests look at the handshake).
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_), *creds, args);
    auto stub = trace_v1::TraceService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    trace_v1::ExportTraceServiceRequest request;
    trace_v1::ExportTraceServiceResponse response;
    grpc::Status status = stub->Export(&ctx, request, &response);
    if (peer_cert != nullptr && status.ok()) {
      auto auth = ctx.auth_context();
      auto values = auth->FindPropertyValues("x509_pem_cert");
      peer_cert->clear();
      if (!values.empty()) peer_cert->assign(values[0].data(), values[0].size());
    }
    return status;
  }

  TlsClientSettings TrustingClient() const {
    TlsClientSettings c;
    c.ca_file = certs_.ca_cert;
    return c;
  }

  ::otlpd::testing::TempDir dir_{"otlpd-grpc-tls"};
  ::otlpd::testing::TestCerts certs_;
  OkTraceService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(GrpcTlsTest, PlaintextWhenTlsIsOff) {
  StartServer(TlsServerSettings{});
  TlsClientSettings insecure;
  insecure.insecure = true;
  grpc::Status s = Call(insecure);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // A TLS client cannot talk to it.
  EXPECT_FALSE(Call(TrustingClient()).ok());
}

TEST_F(GrpcTlsTest, TlsWithTheCa) {
  StartServer(ServerTls());
  std::string peer;
  grpc::Status s = Call(TrustingClient(), false, &peer);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(peer, ::otlpd::testing::ReadFileOrEmpty(certs_.server_cert));
  // https:// with insecure still means TLS.
  TlsClientSettings insecure_https = TrustingClient();
  insecure_https.insecure = true;
  EXPECT_TRUE(Call(insecure_https, /*https=*/true).ok());
  // Plaintext client, untrusted client: refused.
  TlsClientSettings plaintext;
  plaintext.insecure = true;
  EXPECT_FALSE(Call(plaintext).ok());
  TlsClientSettings other_roots;
  other_roots.ca_file = certs_.other_ca_cert;
  EXPECT_FALSE(Call(other_roots).ok());
  // Skip-verify accepts it.
  TlsClientSettings skip;
  skip.insecure_skip_verify = true;
  EXPECT_TRUE(Call(skip).ok());
}

TEST_F(GrpcTlsTest, ServerNameOverride) {
  StartServer(ServerTls());
  TlsClientSettings wrong = TrustingClient();
  wrong.server_name_override = "not-the-name.example";
  EXPECT_FALSE(Call(wrong).ok());
  TlsClientSettings right = TrustingClient();
  right.server_name_override = "localhost";
  grpc::Status s = Call(right);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(GrpcTlsTest, MutualTls) {
  TlsServerSettings settings = ServerTls();
  settings.client_ca_file = certs_.ca_cert;
  StartServer(settings);
  TlsClientSettings with_cert = TrustingClient();
  with_cert.cert_file = certs_.client_cert;
  with_cert.key_file = certs_.client_key;
  grpc::Status ok = Call(with_cert);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_FALSE(Call(TrustingClient()).ok());  // no client certificate
  TlsClientSettings other = TrustingClient();
  other.cert_file = certs_.other_client_cert;
  other.key_file = certs_.other_client_key;
  EXPECT_FALSE(Call(other).ok());
}

TEST_F(GrpcTlsTest, CaFileOnTheServerDoesNotRequireClientCertificates) {
  TlsServerSettings settings = ServerTls();
  settings.ca_file = certs_.ca_cert;
  StartServer(settings);
  EXPECT_TRUE(Call(TrustingClient()).ok());
}

TEST_F(GrpcTlsTest, ReloadServesTheNewCertificate) {
  const std::string cert = dir_.File("live.pem");
  const std::string key = dir_.File("live.key");
  std::filesystem::copy_file(certs_.server_cert, cert);
  std::filesystem::copy_file(certs_.server_key, key);
  TlsServerSettings settings = ServerTls();
  settings.cert_file = cert;
  settings.key_file = key;
  settings.reload_interval = absl::Seconds(1);
  StartServer(settings);
  std::string peer;
  ASSERT_TRUE(Call(TrustingClient(), false, &peer).ok());
  EXPECT_EQ(peer, ::otlpd::testing::ReadFileOrEmpty(cert));
  std::string error;
  ASSERT_TRUE(::otlpd::testing::IssueServerCert(certs_, cert, key, &error)) << error;
  const std::string next = ::otlpd::testing::ReadFileOrEmpty(cert);
  EXPECT_TRUE(::otlpd::testing::WaitUntil(
      [&] { return Call(TrustingClient(), false, &peer).ok() && peer == next; }, absl::Seconds(15),
      absl::Milliseconds(200)));
}

TEST_F(GrpcTlsTest, ErrorsAtStart) {
  TlsServerSettings missing = ServerTls();
  missing.cert_file = dir_.File("absent.pem");
  auto s = MakeGrpcServerCredentials(missing);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "absent.pem")) << s.status();

  TlsServerSettings mismatch = ServerTls();
  mismatch.key_file = certs_.client_key;
  EXPECT_FALSE(MakeGrpcServerCredentials(mismatch).ok());

  for (const char* min : {"1.0", "1.1", "1.3"}) {
    TlsServerSettings v = ServerTls();
    v.min_version = min;
    auto r = MakeGrpcServerCredentials(v);
    ASSERT_FALSE(r.ok()) << min;
    EXPECT_TRUE(absl::StrContains(r.status().message(), "only versions 1.2 and 1.3")) << r.status();
  }
  TlsServerSettings max12 = ServerTls();
  max12.max_version = "1.2";
  EXPECT_FALSE(MakeGrpcServerCredentials(max12).ok());
  TlsServerSettings ok = ServerTls();
  ok.max_version = "1.3";
  EXPECT_TRUE(MakeGrpcServerCredentials(ok).ok());

  TlsClientSettings client;
  client.ca_file = dir_.File("absent-ca.pem");
  auto c = MakeGrpcChannelCredentials(client, false);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::StrContains(c.status().message(), "absent-ca.pem"));
}

}  // namespace
}  // namespace otlpd
