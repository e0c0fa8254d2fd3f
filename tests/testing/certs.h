#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace otlpd::testing {

// PEM files for TLS tests, made by the real openssl command-line tool (EC P-256 keys,
// valid for 2 days). Every path is a file in the directory given to MakeTestCerts.
struct TestCerts {
  std::string ca_cert, ca_key;  // the test CA
  // Signed by the CA, CN=localhost, SAN DNS:localhost, IP:127.0.0.1, serverAuth.
  std::string server_cert, server_key;
  // Signed by the CA, CN=otlpd-test-client, clientAuth.
  std::string client_cert, client_key;
  // An unrelated CA, and a client certificate it signed (must be refused by the first).
  std::string other_ca_cert, other_ca_key;
  std::string other_client_cert, other_client_key;
};

// Makes the CA, the server and client certificates and the other CA in `dir`. nullopt when
// openssl fails; *error (if given) then says what failed, with openssl's output.
std::optional<TestCerts> MakeTestCerts(const std::string& dir, std::string* error = nullptr);

// Issues a new server certificate (fresh key, random serial, same names) signed by the CA
// of `certs` into cert_out/key_out. Both are written to temporary files first and renamed
// into place, so a reader never sees half a file. For certificate reload tests.
bool IssueServerCert(const TestCerts& certs, const std::string& cert_out,
                     const std::string& key_out, std::string* error = nullptr);

// Issues a server certificate signed by the CA of `certs` for the DNS name `dns_name` only
// (CN and the single SAN; no IP address), into cert_out/key_out. A client that connects by
// IP address must then name the server explicitly (SNI / server_name_override).
bool IssueServerCertForName(const TestCerts& certs, const std::string& dns_name,
                            const std::string& cert_out, const std::string& key_out,
                            std::string* error = nullptr);

// The serial number of a PEM certificate file as openssl prints it (upper-case hex), or ""
// if it cannot be read.
std::string CertSerial(const std::string& cert_file);

}  // namespace otlpd::testing
