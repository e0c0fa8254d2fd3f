#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "jaegerremotesampling": serves Jaeger remote sampling strategies over HTTP, from a
// strategies file or computed adaptively from the traffic the pipelines see.
std::unique_ptr<ExtensionFactory> NewJaegerRemoteSamplingExtensionFactory();

}  // namespace otlpd
