#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "attributes": inserts, updates, deletes, hashes, extracts and converts attributes of spans,
// log records and metric data points (otelcol-contrib's attributes processor).
std::unique_ptr<ProcessorFactory> NewAttributesProcessorFactory();

}  // namespace otlpd
