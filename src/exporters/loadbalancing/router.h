#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "core/signal.h"
#include "core/telemetry.h"

namespace otlpd {

// otelcol's loadbalancing routing_key values.
enum class RoutingKey {
  kTraceId,   // "traceID": each span / log record by its trace id
  kService,   // "service": each resource by its service.name
  kResource,  // "resource": each resource by all of its attributes
  kMetric,    // "metric": each metric by its name
  kStreamId,  // "streamID": each data point by resource, scope, metric and its attributes
};

std::optional<RoutingKey> ParseRoutingKey(std::string_view name);
std::string_view RoutingKeyName(RoutingKey key);
// The keys otelcol accepts per signal: traces {traceID, service}, logs {traceID, service,
// resource}, metrics {service, resource, metric, streamID}.
bool RoutingKeyApplies(RoutingKey key, Signal signal);
// traceID for traces and logs, service for metrics.
RoutingKey DefaultRoutingKey(Signal signal);

// One destination's share of a request.
struct RoutedPart {
  int destination = 0;
  TelemetryPtr data;
};

// Splits `data` by `key`: every item (span, log record, metric data point) goes to
// `pick(hash of its key)`, and the items of one destination become one request (resources
// and scopes repeated as needed, core/batch_builder.h; nothing is copied). A request whose
// items all go to one destination is passed on as it is. Items with equal keys always land
// in the same part, so with traceID no trace is split. A log record without a trace id is
// keyed by its own position in the request (spread, as otelcol spreads them at random).
// Parts come in ascending destination order; an empty request gives no parts. `key` must
// apply to the signal (RoutingKeyApplies).
std::vector<RoutedPart> SplitByRoutingKey(const TelemetryPtr& data, RoutingKey key,
                                          const std::function<int(uint64_t)>& pick);

}  // namespace otlpd
