#pragma once

#include <cstdint>
#include <string_view>

namespace otlpd {

// Something that wants to see how many traces pass through the pipelines, per service and
// operation: e.g. jaegerremotesampling's adaptive source, which turns the observed rates into
// sampling probabilities. An extension implements it; the traffic_observer processor (or
// any component configured to feed one) finds it with GetExtensionAs<TraceTrafficObserver>
// and reports what it sees, so neither side depends on the other, only on this header.
class TraceTrafficObserver {
 public:
  virtual ~TraceTrafficObserver() = default;
  // `traces` root spans (one per trace) of `operation` (the span name) in `service`
  // (resource attribute service.name, "" when absent) went through a pipeline. Called from
  // pipeline threads, concurrently; must be cheap and must not block.
  virtual void ObserveTraces(std::string_view service, std::string_view operation,
                             uint64_t traces) = 0;
};

}  // namespace otlpd
