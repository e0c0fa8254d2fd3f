#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// Type "loadbalancing": routes traces, metrics and logs over backends found by a resolver,
// each backend an exporter that `otlp_factory` (the "otlp" exporter's factory) builds from
// protocol.otlp with the backend's endpoint.
std::unique_ptr<ExporterFactory> NewLoadBalancingExporterFactory(
    std::unique_ptr<ExporterFactory> otlp_factory);

}  // namespace otlpd
