#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace otlpd::testing {

struct HttpResult {
  int status = 0;     // 0 when no response arrived (see error)
  std::string error;  // libcurl's message when the transfer failed
  // Response headers, names lower-cased, in order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Connections libcurl opened for this request: 0 when it went on a kept-alive one.
  int new_connections = 0;

  const std::string* Header(std::string_view lower_name) const;
};

// TLS settings for https:// URLs. Paths are PEM files; empty ones are left out.
struct HttpClientTls {
  std::string ca_file;    // CAINFO: the only roots the server's certificate may chain to
  std::string cert_file;  // client certificate (mTLS), with key_file
  std::string key_file;
  // Highest TLS version the client offers ("1.2", "1.3"); "" = libcurl's default.
  std::string max_version;
};

// A libcurl easy handle: successive requests reuse the connection (keep-alive).
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `headers` as "Name: value". No "Expect: 100-continue" is sent unless given. A method
  // other than GET and POST with an empty body (e.g. a CORS preflight OPTIONS) is sent
  // without a body and without Content-Type, as a browser does.
  HttpResult Request(std::string_view method, const std::string& url, std::string_view body,
                     const std::vector<std::string>& headers = {},
                     absl::Duration timeout = absl::Seconds(15));
  HttpResult Post(const std::string& url, std::string_view body,
                  const std::vector<std::string>& headers = {},
                  absl::Duration timeout = absl::Seconds(15)) {
    return Request("POST", url, body, headers, timeout);
  }
  HttpResult Get(const std::string& url, absl::Duration timeout = absl::Seconds(15)) {
    return Request("GET", url, "", {}, timeout);
  }
  // Used by every later request of this client.
  void set_tls(const HttpClientTls& tls) { tls_ = tls; }

 private:
  void* curl_;
  HttpClientTls tls_;
};

// One-shot requests on a fresh connection.
HttpResult HttpPost(const std::string& url, std::string_view body,
                    const std::vector<std::string>& headers = {},
                    absl::Duration timeout = absl::Seconds(15));
HttpResult HttpGet(const std::string& url, absl::Duration timeout = absl::Seconds(15));

// "http://127.0.0.1:<port><path>".
std::string LocalUrl(int port, std::string_view path);
// "https://127.0.0.1:<port><path>".
std::string LocalHttpsUrl(int port, std::string_view path);

// gzip (RFC 1952) of `data` with zlib, independent of the daemon's own compression code.
std::string Gzip(std::string_view data);

}  // namespace otlpd::testing

namespace otlpd::testing {
// Inflates gzip data; nullopt if it is not valid gzip.
std::optional<std::string> Gunzip(std::string_view data);
}  // namespace otlpd::testing
