#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "filter": drops spans, span events, metrics, data points and log records that OTTL
// conditions match (otelcol-contrib's filter processor).
std::unique_ptr<ProcessorFactory> NewFilterProcessorFactory();

}  // namespace otlpd
