#pragma once

#include <string>
#include <vector>

#include "core/factory.h"

namespace otlpd {

// otelcol-contrib's bearertokenauth extension settings (same keys and defaults).
struct BearerTokenAuthConfig : ComponentConfig {
  // Sent and expected as "<scheme> <token>"; an empty scheme means the token alone.
  std::string scheme = "Bearer";
  // Request header (HTTP) or metadata key (gRPC) carrying the credential; matched
  // case-insensitively.
  std::string header = "Authorization";
  std::string token;
  // Several accepted tokens (server side); a client sends the first.
  std::vector<std::string> tokens;
  // A file with one token per line, re-read when it changes. Wins over token/tokens.
  std::string filename;
};

}  // namespace otlpd
