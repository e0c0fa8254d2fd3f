#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/config_node.h"
#include "core/http_server.h"

namespace otlpd {

// CORS for an HTTP server (otelcol confighttp `cors:` block), with the behaviour of the
// rs/cors v1.11 handler otelcol installs (AllowCredentials true, methods GET/POST/HEAD,
// preflights answered 204 and never passed on).
struct CorsSettings {
  // Exact origins ("https://app.example.com"), "*" for any, or one '*' wildcard inside
  // ("https://*.example.com"). Matched case-insensitively.
  std::vector<std::string> allowed_origins;
  // Request headers a preflight may ask for; empty = Accept, Content-Type,
  // X-Requested-With; "*" = any.
  std::vector<std::string> allowed_headers;
  int max_age = 0;  // seconds; > 0 sends Access-Control-Max-Age (< 0 sends 0)

  // CORS is only active with at least one allowed origin (as in otelcol).
  bool enabled() const { return !allowed_origins.empty(); }
};

// Parses a `cors:` block (pass node.Child("cors")); absent leaves `out` untouched. Logs
// otelcol's warning when allowed_headers is set without allowed_origins.
void ParseCors(ConfigNode node, CorsSettings* out);

// Call first for every request when settings.enabled():
//  - A preflight (OPTIONS with Access-Control-Request-Method) returns the complete answer
//    (204, Vary, and the Access-Control-Allow-* headers when origin, method and requested
//    headers are allowed); send it as is, the request must not reach the handler (nor
//    authentication).
//  - Any other request returns nullopt and appends the CORS headers for its response to
//    *extra_headers (Vary: Origin always; Access-Control-Allow-Origin and
//    Access-Control-Allow-Credentials when the origin is allowed). Add them to whatever
//    response the request gets, errors included. A disallowed origin is not rejected.
std::optional<HttpResponse> HandleCors(
    const CorsSettings& settings, const HttpRequest& request,
    std::vector<std::pair<std::string, std::string>>* extra_headers);

}  // namespace otlpd
