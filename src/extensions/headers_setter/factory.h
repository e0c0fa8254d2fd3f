#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "headers_setter": a client authenticator that sets outgoing request headers from fixed
// values or from the incoming request's client metadata (e.g. a tenant header).
std::unique_ptr<ExtensionFactory> NewHeadersSetterExtensionFactory();

}  // namespace otlpd
