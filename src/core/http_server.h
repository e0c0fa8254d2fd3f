#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace otlpd {

struct HttpRequest {
  std::string method;  // "POST"
  std::string path;    // target without the query string
  // Header names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // as received on the wire (still compressed if Content-Encoding says so)
  const std::string* Header(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
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
};

// HTTP/1.1 server with keep-alive (Boost.Beast), shared by the OTLP/HTTP receiver,
// health_check and the self-metrics endpoint. The handler runs on a server thread and
// may answer later from another thread.
class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           HttpHandler handler);
  virtual ~HttpServer() = default;
  // The port actually bound.
  virtual int port() const = 0;
  // Stops accepting and closes connections; pending responds become no-ops.
  virtual void Stop() = 0;
};

}  // namespace otlpd
