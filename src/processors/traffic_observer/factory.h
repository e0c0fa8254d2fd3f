#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "traffic_observer" (ours): counts the traces passing a traces pipeline per service and
// operation and reports them to an extension (core/traffic_observer.h); data passes
// unchanged.
std::unique_ptr<ProcessorFactory> NewTrafficObserverProcessorFactory();

}  // namespace otlpd
