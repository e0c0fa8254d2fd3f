#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "bearertokenauth": checks (server) or sends (client) "Authorization: Bearer <token>".
std::unique_ptr<ExtensionFactory> NewBearerTokenAuthExtensionFactory();

}  // namespace otlpd
