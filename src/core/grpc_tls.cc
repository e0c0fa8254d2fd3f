#include "core/grpc_tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace otlpd {

namespace {

namespace gx = grpc::experimental;

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read tls::", what, " ", path));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// gRPC 1.51's TLS stack always offers TLS 1.2 through 1.3 (no setter for the range).
absl::Status CheckGrpcVersions(const TlsServerSettings& s) {
  const std::string min = s.min_version.empty() ? "1.2" : s.min_version;
  if (min != "1.2") {
    return absl::InvalidArgumentError(
        absl::StrCat("tls::min_version \"", min,
                     "\" cannot be honoured for gRPC: gRPC's TLS supports only versions 1.2 "
                     "and 1.3 (use min_version \"1.2\")"));
  }
  if (!s.max_version.empty() && s.max_version != "1.3") {
    return absl::InvalidArgumentError(
        absl::StrCat("tls::max_version \"", s.max_version,
                     "\" cannot be honoured for gRPC: gRPC's TLS supports only versions 1.2 "
                     "and 1.3 (leave max_version unset or use \"1.3\")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeGrpcServerCredentials(
    const TlsServerSettings& settings) {
  if (!settings.enabled()) return grpc::InsecureServerCredentials();
  if (absl::Status s = CheckGrpcVersions(settings); !s.ok()) return s;
  // Read and check everything now: the providers below would only log a bad file and fail
  // each handshake.
  absl::StatusOr<TlsServerPem> pem = LoadTlsServerPem(settings);
  if (!pem.ok()) return pem.status();

  std::shared_ptr<gx::CertificateProviderInterface> provider;
  if (settings.reload_interval > absl::ZeroDuration()) {
    const int64_t seconds = std::max<int64_t>(
        1, absl::ToInt64Seconds(absl::Ceil(settings.reload_interval, absl::Seconds(1))));
    provider = std::make_shared<gx::FileWatcherCertificateProvider>(
        settings.key_file, settings.cert_file, settings.client_ca_file,
        static_cast<unsigned int>(std::min<int64_t>(seconds, 1 << 30)));
  } else {
    std::vector<gx::IdentityKeyCertPair> pairs = {{pem->key, pem->cert_chain}};
    provider = std::make_shared<gx::StaticDataCertificateProvider>(pem->client_ca, pairs);
  }
  gx::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!settings.client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::experimental::TlsServerCredentials(options);
  if (creds == nullptr) return absl::InternalError("gRPC refused the TLS server credentials");
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeGrpcChannelCredentials(
    const TlsClientSettings& tls, bool https_scheme) {
  if (tls.insecure && !https_scheme) return grpc::InsecureChannelCredentials();

  std::string roots, cert, key;
  if (!tls.ca_file.empty()) {
    absl::StatusOr<std::string> r = ReadFile(tls.ca_file, "ca_file");
    if (!r.ok()) return r.status();
    roots = *std::move(r);
  }
  if (!tls.cert_file.empty()) {
    absl::StatusOr<std::string> c = ReadFile(tls.cert_file, "cert_file");
    if (!c.ok()) return c.status();
    absl::StatusOr<std::string> k = ReadFile(tls.key_file, "key_file");
    if (!k.ok()) return k.status();
    cert = *std::move(c);
    key = *std::move(k);
  }
  if (!tls.insecure_skip_verify) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = roots;  // empty: gRPC's default roots
    options.pem_cert_chain = cert;
    options.pem_private_key = key;
    return grpc::SslCredentials(options);
  }
  // Encrypted, but any server certificate is accepted.
  gx::TlsChannelCredentialsOptions options;
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<gx::NoOpCertificateVerifier>());
  if (!cert.empty()) {
    std::vector<gx::IdentityKeyCertPair> pairs = {{key, cert}};
    options.set_certificate_provider(std::make_shared<gx::StaticDataCertificateProvider>(pairs));
    options.watch_identity_key_cert_pairs();
  }
  return gx::TlsCredentials(options);
}

void ApplyGrpcChannelTlsArgs(const TlsClientSettings& settings, grpc::ChannelArguments* args) {
  if (!settings.server_name_override.empty()) {
    args->SetSslTargetNameOverride(settings.server_name_override);
  }
}

}  // namespace otlpd
