#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "memory_limiter": refuses data while the process uses too much memory.
std::unique_ptr<ProcessorFactory> NewMemoryLimiterProcessorFactory();

}  // namespace otlpd
