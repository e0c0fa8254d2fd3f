#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "resource": applies attribute actions to resource attributes (otelcol-contrib's resource
// processor).
std::unique_ptr<ProcessorFactory> NewResourceProcessorFactory();

}  // namespace otlpd
