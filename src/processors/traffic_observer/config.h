#pragma once

#include "core/component.h"
#include "core/factory.h"

namespace otlpd {

// traffic_observer (ours): `extension`, the id of the extension to feed (one implementing
// TraceTrafficObserver, e.g. jaegerremotesampling with source.adaptive).
struct TrafficObserverConfig : ComponentConfig {
  ComponentId extension;
};

}  // namespace otlpd
