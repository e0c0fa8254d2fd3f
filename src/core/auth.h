#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace otlpd {

// Request headers (HTTP) or metadata (gRPC): names lower-cased, in arrival order.
using Metadata = std::vector<std::pair<std::string, std::string>>;

// The value of the first `lower_name` entry, or nullptr.
const std::string* FindMetadata(const Metadata& metadata, std::string_view lower_name);

// Implemented by extensions that check incoming requests (otelcol's server
// authenticators), used by receivers configured with `auth: {authenticator: <id>}`.
class ServerAuthenticator {
 public:
  virtual ~ServerAuthenticator() = default;
  // OK lets the request in. Otherwise kUnauthenticated (HTTP 401, gRPC UNAUTHENTICATED)
  // with a message that is safe to show the client and to log: it never quotes the
  // credentials that were presented or expected.
  virtual absl::Status Authenticate(const Metadata& headers) const = 0;
};

// Implemented by extensions that add credentials to outgoing requests (otelcol's client
// authenticators), used by exporters configured with `auth: {authenticator: <id>}`.
class ClientAuthenticator {
 public:
  virtual ~ClientAuthenticator() = default;
  // Headers for one outgoing request (lower-case names, valid as HTTP headers and as gRPC
  // metadata). Called per request, so a credential read from a file may change over time.
  // `client_metadata` is what the receiver kept of the request's own headers
  // (include_metadata), or null; an authenticator may copy from it (headers_setter).
  virtual absl::StatusOr<Metadata> Headers(const Metadata* client_metadata) const = 0;
  // Whether the headers are credentials that must not travel in plaintext: a gRPC exporter
  // refuses to start with such an authenticator on an insecure channel (as otelcol's
  // RequireTransportSecurity).
  virtual bool RequiresTransportSecurity() const { return false; }
};

}  // namespace otlpd
