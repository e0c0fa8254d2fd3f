#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "basicauth": HTTP Basic authentication, checked against htpasswd entries (server) or
// sent with a configured username and password (client).
std::unique_ptr<ExtensionFactory> NewBasicAuthExtensionFactory();

}  // namespace otlpd
