#include "core/tls_config.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace otlpd {

namespace {

// Reads a version key, reporting values otelcol does not know.
void GetVersion(ConfigNode& node, std::string_view key, std::string* out) {
  std::string v;
  if (!node.Get(key, &v)) return;
  if (!v.empty() && TlsVersionNumber(v) < 0) {
    node.Error(key, absl::StrCat("invalid TLS ", std::string(key), ": unsupported TLS version: \"",
                                 v, "\""));
    return;
  }
  *out = std::move(v);
}

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read tls::", what, " ", path));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read tls::", what, " ", path));
  }
  return content.str();
}

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no PEM data found";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

BioPtr MemBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM bundle and how many there are.
X509Ptr FirstCert(const std::string& pem, int* count) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  X509Ptr first;
  *count = 0;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (!first) {
      first.reset(x);
    } else {
      X509_free(x);
    }
    ++*count;
  }
  // Reading stops with a "no start line" error at the end of the data; only a failure
  // before any certificate matters.
  if (*count > 0) ERR_clear_error();
  return first;
}

}  // namespace

int TlsVersionNumber(const std::string& version) {
  if (version.empty()) return 0;
  if (version == "1.0") return 0x0301;
  if (version == "1.1") return 0x0302;
  if (version == "1.2") return 0x0303;
  if (version == "1.3") return 0x0304;
  return -1;
}

void ParseTlsServer(ConfigNode node, TlsServerSettings* out) {
  if (!node.IsDefined()) return;
  node.Get("ca_file", &out->ca_file);
  node.Get("cert_file", &out->cert_file);
  node.Get("key_file", &out->key_file);
  node.Get("client_ca_file", &out->client_ca_file);
  GetVersion(node, "min_version", &out->min_version);
  GetVersion(node, "max_version", &out->max_version);
  if (out->min_version.empty()) out->min_version = "1.2";      // otelcol's default
  node.GetDuration("reload_interval", &out->reload_interval);  // refuses negative ones

  if (out->cert_file.empty() && out->key_file.empty()) {
    node.Error("",
               "TLS configuration must include both certificate and key for server "
               "connections");
  } else if (out->cert_file.empty() != out->key_file.empty()) {
    node.Error(out->cert_file.empty() ? "cert_file" : "key_file",
               "TLS configuration must include both certificate and key (CertFile/CertPem "
               "and KeyFile/KeyPem)");
  }
  const int min = TlsVersionNumber(out->min_version);
  const int max = TlsVersionNumber(out->max_version);
  if (min > 0 && max > 0 && max < min) {
    node.Error("max_version",
               "invalid TLS configuration: min_version cannot be greater than max_version");
  }
}

void ParseTlsClient(ConfigNode node, TlsClientSettings* out) {
  if (!node.IsDefined()) return;
  node.Get("insecure", &out->insecure);
  node.Get("insecure_skip_verify", &out->insecure_skip_verify);
  node.Get("ca_file", &out->ca_file);
  node.Get("cert_file", &out->cert_file);
  node.Get("key_file", &out->key_file);
  node.Get("server_name_override", &out->server_name_override);
  if (out->cert_file.empty() != out->key_file.empty()) {
    node.Error(out->cert_file.empty() ? "cert_file" : "key_file",
               "TLS configuration must include both certificate and key (CertFile/CertPem "
               "and KeyFile/KeyPem)");
  }
}

absl::StatusOr<TlsServerPem> LoadTlsServerPem(const TlsServerSettings& settings) {
  if (!settings.enabled()) {
    return absl::InvalidArgumentError("TLS needs both tls::cert_file and tls::key_file");
  }
  TlsServerPem pem;
  absl::StatusOr<std::string> cert = ReadFile(settings.cert_file, "cert_file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(settings.key_file, "key_file");
  if (!key.ok()) return key.status();
  pem.cert_chain = *std::move(cert);
  pem.key = *std::move(key);

  int count = 0;
  X509Ptr leaf = FirstCert(pem.cert_chain, &count);
  if (!leaf) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls::cert_file ", settings.cert_file, ": no certificate: ", OpenSslError()));
  }
  ERR_clear_error();
  BioPtr key_bio = MemBio(pem.key);
  PkeyPtr pkey(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls::key_file ", settings.key_file, ": no private key: ", OpenSslError()));
  }
  if (X509_check_private_key(leaf.get(), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("tls::key_file ", settings.key_file,
                                                   " does not match the certificate in ",
                                                   settings.cert_file));
  }
  if (!settings.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFile(settings.client_ca_file, "client_ca_file");
    if (!ca.ok()) return ca.status();
    pem.client_ca = *std::move(ca);
    if (!FirstCert(pem.client_ca, &count)) {
      return absl::InvalidArgumentError(
          absl::StrCat("failed to load client CA CertPool: tls::client_ca_file ",
                       settings.client_ca_file, ": no certificate: ", OpenSslError()));
    }
  }
  return pem;
}

}  // namespace otlpd
