#pragma once

#include <optional>
#include <string>

#include "core/factory.h"

namespace otlpd {

// otelcol-contrib's basicauth extension settings (same keys): either `htpasswd` (the
// extension is a server authenticator) or `client_auth` (a client authenticator).
struct BasicAuthConfig : ComponentConfig {
  struct Htpasswd {
    std::string file;         // read at Start
    std::string inline_text;  // key `inline`; its entries override the file's
  };
  struct ClientAuth {
    std::string username;
    std::string password;
  };
  std::optional<Htpasswd> htpasswd;
  std::optional<ClientAuth> client_auth;
};

}  // namespace otlpd
