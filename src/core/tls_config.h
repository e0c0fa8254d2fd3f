#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/config_node.h"

namespace otlpd {

// Server TLS settings (otelcol configtls.ServerConfig), for the `tls:` block of a receiver
// endpoint or an extension's server. TLS is on when the block is present (then cert_file
// and key_file are required), off when it is absent.
struct TlsServerSettings {
  std::string cert_file;  // PEM certificate chain (leaf first)
  std::string key_file;   // PEM private key
  // Accepted as in otelcol, where on a server it only fills RootCAs: it does NOT turn on
  // client certificate verification.
  std::string ca_file;
  // PEM bundle of the CAs that sign client certificates. When set, every client must
  // present a certificate that verifies against it (mTLS; otelcol has no optional mode).
  std::string client_ca_file;
  std::string min_version = "1.2";  // "1.0" .. "1.3"
  std::string max_version;          // "" = the highest the library supports (1.3)
  // > 0: cert/key (and the client CA) are re-read this often; new connections use the
  // newest. 0: read once at start.
  absl::Duration reload_interval = absl::ZeroDuration();

  bool enabled() const { return !cert_file.empty() && !key_file.empty(); }
};

// Parses a `tls:` block (pass node.Child("tls")); leaves `out` untouched (TLS off) when
// the block is absent or null. Reports otelcol's validation errors into the node's
// diagnostics. Never touches the files: they are read when the server starts.
void ParseTlsServer(ConfigNode node, TlsServerSettings* out);

// Client TLS settings (otelcol configtls.ClientConfig), for exporters.
struct TlsClientSettings {
  bool insecure = false;              // plaintext (unless the endpoint says https://)
  bool insecure_skip_verify = false;  // TLS without checking the server's certificate
  std::string ca_file;                // PEM roots; system roots when empty
  std::string cert_file;              // client certificate (mTLS)
  std::string key_file;
  std::string server_name_override;  // name sent as SNI and verified in the certificate
};

// Parses a client `tls:` block (pass node.Child("tls")); cert_file and key_file must be
// set together.
void ParseTlsClient(ConfigNode node, TlsClientSettings* out);

// TLS protocol version "1.0".."1.3" as 0x0301..0x0304 (the wire / OpenSSL numbering);
// 0 for "" (no bound); -1 when unknown.
int TlsVersionNumber(const std::string& version);

// The PEM material of a server, read from its files and checked: the chain and the key
// parse and the key belongs to the leaf certificate, the client CA bundle holds at least
// one certificate. Errors name the setting and the file.
struct TlsServerPem {
  std::string cert_chain;
  std::string key;
  std::string client_ca;  // empty without client_ca_file
};
absl::StatusOr<TlsServerPem> LoadTlsServerPem(const TlsServerSettings& settings);

}  // namespace otlpd
