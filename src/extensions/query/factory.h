#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "query": Jaeger's query API, api_v3 and our logs/metrics API over a store (see
// query_extension.h).
std::unique_ptr<ExtensionFactory> NewQueryExtensionFactory();

}  // namespace otlpd
