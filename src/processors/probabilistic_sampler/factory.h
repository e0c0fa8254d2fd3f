#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "probabilistic_sampler": consistent probability sampling of spans and log records
// (otelcol-contrib's probabilisticsamplerprocessor).
std::unique_ptr<ProcessorFactory> NewProbabilisticSamplerFactory();

}  // namespace otlpd
