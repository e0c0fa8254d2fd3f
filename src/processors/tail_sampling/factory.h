#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "tail_sampling": otelcol-contrib's tail sampling processor, with a durable buffer.
std::unique_ptr<ProcessorFactory> NewTailSamplingProcessorFactory();

}  // namespace otlpd
