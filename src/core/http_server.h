#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/tls_config.h"

namespace otlpd {

struct HttpRequest {
  std::string method;  // "POST"
  std::string path;    // target without the query string
  // The raw query string (after '?', not decoded); "" when there is none.
  std::string query;
  // The query's key=value pairs, split at '&', percent-decoded, '+' as space, in order and
  // with repeated keys kept. A key without '=' has an empty value; empty pieces ("a&&b")
  // are skipped. A malformed escape ("%zz", "%4") is not an error: its bytes are kept as
  // they are and the request goes on.
  std::vector<std::pair<std::string, std::string>> params;
  // Header names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  // As received on the wire (still compressed if Content-Encoding says so). A body of known
  // length is one flat chunk (TryFlat), read straight from the socket into it.
  absl::Cord body;
  bool tls = false;  // arrived over TLS

  // First value of a header (name lower-case); nullptr when absent.
  const std::string* Header(std::string_view lower_name) const;
  // First value of a query parameter (exact, case-sensitive name); nullptr when absent.
  const std::string* Param(std::string_view name) const;
  // How many times the parameter occurs.
  size_t ParamCount(std::string_view name) const;
};

// Splits and decodes a query string as HttpRequest::params describes.
std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view query);

struct HttpResponse {
  int status = 200;
  // Sent in order; a name may repeat (e.g. two Vary lines). Content-Length is computed.
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"Content-Type", "..."}
  std::string body;
};

// Sends the response; may be called from any thread, exactly once.
using HttpRespond = absl::AnyInvocable<void(HttpResponse) &&>;
using HttpHandler = std::function<void(HttpRequest&& request, HttpRespond respond)>;

struct HttpServerOptions {
  std::string endpoint = "127.0.0.1:0";  // host:port; port 0 picks a free one
  // Bodies whose Content-Length (or chunked size) exceeds this get 413 without reading on.
  size_t max_body_bytes = 20 << 20;
  int threads = 1;
  absl::Duration idle_timeout = absl::Seconds(60);
  // TLS (HTTPS) when tls.enabled(). Start fails if the files cannot be read or do not fit.
  TlsServerSettings tls;
  // A TLS handshake that takes longer closes the connection.
  absl::Duration tls_handshake_timeout = absl::Seconds(10);
};

// HTTP/1.1 server with keep-alive (Boost.Beast), optionally over TLS (OpenSSL), shared by
// the OTLP/HTTP receiver, health_check and the self-metrics endpoint. The handler runs on a
// server thread and may answer later from another thread.
//
// TLS: the certificate chain and key from tls.cert_file/key_file; min_version/max_version
// bound the protocol; client_ca_file requires a client certificate signed by one of those
// CAs; with reload_interval > 0 the files are checked that often and, when they changed,
// new connections use a context built from the new files (a failed reload keeps the old
// one and logs a warning). A failed handshake closes the connection (logged at debug).
class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           HttpHandler handler);
  // Stops at once (Stop(absl::Now())) unless Stop already ran.
  virtual ~HttpServer() = default;
  // The port actually bound.
  virtual int port() const = 0;

  // Begins a graceful stop and returns at once: closes the listening socket (new
  // connections are refused), closes idle keep-alive connections, and from now on every
  // response carries "Connection: close". Requests being read or handled go on, and
  // requests arriving on connections that are not idle are still passed to the handler
  // (which decides what to answer, e.g. 503). Idempotent.
  virtual void BeginStop() = 0;

  // Graceful stop: BeginStop(), then waits until every request that was being read or
  // handled has had its response written (a connection accepted shortly before, which has
  // not sent its first request yet, gets to send it), at most until `deadline`; then closes
  // every connection and stops the threads. Responses posted after that are dropped (the
  // respond callbacks stay safe to call, from any thread). Idempotent; later calls return
  // at once.
  void Stop(absl::Time deadline = absl::Now() + absl::Seconds(5)) { StopBy(deadline); }

 protected:
  virtual void StopBy(absl::Time deadline) = 0;
};

}  // namespace otlpd
