#include "testing/certs.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "testing/temp_dir.h"

namespace otlpd::testing {

namespace {

constexpr const char* kEcKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

// Runs a shell command with its output in `log`; false (and the output in *error) on failure.
bool Run(const std::string& cmd, const std::string& log, std::string* error) {
  const std::string full = absl::StrCat(cmd, " >", log, " 2>&1");
  if (std::system(full.c_str()) == 0) return true;
  if (error != nullptr) *error = absl::StrCat("`", cmd, "` failed: ", ReadFileOrEmpty(log));
  return false;
}

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

std::string RandomSerial() {
  std::random_device rd;
  const uint64_t hi = (static_cast<uint64_t>(rd()) << 32) | rd();
  return absl::StrFormat("0x%016x", hi | (uint64_t{1} << 62));  // positive, 8 bytes
}

bool MakeCa(const std::string& dir, const std::string& name, const std::string& cert,
            const std::string& key, std::string* error) {
  return Run(
      absl::StrCat("openssl req -x509 ", kEcKey, " -days 2 -subj '/CN=", name,
                   "' -addext basicConstraints=critical,CA:TRUE",
                   " -addext keyUsage=critical,keyCertSign,cRLSign -keyout ", key, " -out ", cert),
      absl::StrCat(dir, "/openssl.log"), error);
}

// A key and a certificate for `subject` signed by ca_cert/ca_key, with the extensions in
// `ext` (openssl extfile syntax).
bool Issue(const std::string& dir, const std::string& ca_cert, const std::string& ca_key,
           const std::string& subject, const std::string& ext, const std::string& cert,
           const std::string& key, std::string* error) {
  const std::string log = absl::StrCat(dir, "/openssl.log");
  const std::string csr = absl::StrCat(cert, ".csr");
  const std::string ext_file = absl::StrCat(cert, ".ext");
  if (!WriteText(ext_file, ext)) {
    if (error != nullptr) *error = absl::StrCat("cannot write ", ext_file);
    return false;
  }
  return Run(absl::StrCat("openssl req -new ", kEcKey, " -subj '", subject, "' -keyout ", key,
                          " -out ", csr),
             log, error) &&
         Run(absl::StrCat("openssl x509 -req -in ", csr, " -CA ", ca_cert, " -CAkey ", ca_key,
                          " -set_serial ", RandomSerial(), " -days 2 -extfile ", ext_file, " -out ",
                          cert),
             log, error);
}

const char* kServerExt =
    "basicConstraints=CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=serverAuth\n"
    "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
const char* kClientExt =
    "basicConstraints=CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=clientAuth\n";

}  // namespace

std::optional<TestCerts> MakeTestCerts(const std::string& dir, std::string* error) {
  TestCerts c;
  auto f = [&](const char* name) { return absl::StrCat(dir, "/", name); };
  c.ca_cert = f("ca.pem");
  c.ca_key = f("ca.key");
  c.server_cert = f("server.pem");
  c.server_key = f("server.key");
  c.client_cert = f("client.pem");
  c.client_key = f("client.key");
  c.other_ca_cert = f("other-ca.pem");
  c.other_ca_key = f("other-ca.key");
  c.other_client_cert = f("other-client.pem");
  c.other_client_key = f("other-client.key");
  if (!MakeCa(dir, "otlpd test CA", c.ca_cert, c.ca_key, error) ||
      !Issue(dir, c.ca_cert, c.ca_key, "/CN=localhost", kServerExt, c.server_cert, c.server_key,
             error) ||
      !Issue(dir, c.ca_cert, c.ca_key, "/CN=otlpd-test-client", kClientExt, c.client_cert,
             c.client_key, error) ||
      !MakeCa(dir, "otlpd other CA", c.other_ca_cert, c.other_ca_key, error) ||
      !Issue(dir, c.other_ca_cert, c.other_ca_key, "/CN=otlpd-test-client", kClientExt,
             c.other_client_cert, c.other_client_key, error)) {
    return std::nullopt;
  }
  return c;
}

bool IssueServerCert(const TestCerts& certs, const std::string& cert_out,
                     const std::string& key_out, std::string* error) {
  const std::string dir = std::filesystem::path(cert_out).parent_path().string();
  const std::string tmp_cert = absl::StrCat(cert_out, ".new");
  const std::string tmp_key = absl::StrCat(key_out, ".new");
  if (!Issue(dir, certs.ca_cert, certs.ca_key, "/CN=localhost", kServerExt, tmp_cert, tmp_key,
             error)) {
    return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp_key, key_out, ec);
  if (!ec) std::filesystem::rename(tmp_cert, cert_out, ec);
  if (ec && error != nullptr) *error = absl::StrCat("rename: ", ec.message());
  return !ec;
}

bool IssueServerCertForName(const TestCerts& certs, const std::string& dns_name,
                            const std::string& cert_out, const std::string& key_out,
                            std::string* error) {
  const std::string dir = std::filesystem::path(cert_out).parent_path().string();
  const std::string ext = absl::StrCat(
      "basicConstraints=CA:FALSE\n"
      "keyUsage=critical,digitalSignature,keyEncipherment\n"
      "extendedKeyUsage=serverAuth\n"
      "subjectAltName=DNS:",
      dns_name, "\n");
  return Issue(dir, certs.ca_cert, certs.ca_key, absl::StrCat("/CN=", dns_name), ext, cert_out,
               key_out, error);
}

std::string CertSerial(const std::string& cert_file) {
  const std::string out = absl::StrCat(cert_file, ".serial");
  if (std::system(
          absl::StrCat("openssl x509 -noout -serial -in ", cert_file, " >", out, " 2>/dev/null")
              .c_str()) != 0) {
    return "";
  }
  const std::string content = ReadFileOrEmpty(out);
  std::remove(out.c_str());
  absl::string_view text = absl::StripAsciiWhitespace(content);
  if (!absl::ConsumePrefix(&text, "serial=")) return "";
  return absl::AsciiStrToUpper(text);
}

}  // namespace otlpd::testing
