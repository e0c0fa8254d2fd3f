#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "adaptive_sampler": holds the spans (or traces) per second it passes on near a goal,
// globally or per key, with consistent probability sampling written as `th`.
std::unique_ptr<ProcessorFactory> NewAdaptiveSamplerFactory();

}  // namespace otlpd
