#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "health_check": answers an HTTP GET with 200 while the collector is healthy, else 503.
std::unique_ptr<ExtensionFactory> NewHealthCheckExtensionFactory();

}  // namespace otlpd
