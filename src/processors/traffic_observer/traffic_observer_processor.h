#pragma once

#include <functional>
#include <string_view>
#include <utility>

#include "core/component.h"
#include "core/telemetry.h"
#include "core/traffic_observer.h"

namespace otlpd {

// Counts root spans (a trace's first span: no parent_span_id) per (service.name, span name)
// in each request, reports the counts to `observer`, and passes the request on as it is.
// Reads the OTLP bytes without decoding them, and a span only up to its name (field 5):
// encoders write fields in number order, so a parent_span_id (4) written after the name
// would be missed (the span counted as a root).
class TrafficObserverProcessor : public Processor {
 public:
  TrafficObserverProcessor(TraceTrafficObserver* observer, ConsumerPtr next)
      : observer_(observer), next_(std::move(next)) {}

  void Consume(TelemetryPtr data, Completion done) override;

 private:
  TraceTrafficObserver* const observer_;
  const ConsumerPtr next_;
};

// Calls `report(service, operation, traces)` for the root spans of an
// ExportTraceServiceRequest's bytes. Malformed bytes end the walk early.
void CountRootSpans(
    std::string_view request,
    const std::function<void(std::string_view, std::string_view, uint64_t)>& report);

}  // namespace otlpd
