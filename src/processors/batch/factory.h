#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "batch": groups requests into batches by size and time (otelcol's batch processor).
std::unique_ptr<ProcessorFactory> NewBatchProcessorFactory();

}  // namespace otlpd
