#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/telemetry.h"

namespace otlpd {

// Splits a traces or logs request into `parts` requests by a class per span / log record
// (0 .. parts-1), keeping each item's resource and scope. A part with no items is null; the
// others carry their item count and the request's client metadata.
struct ItemClassifier {
  std::function<size_t(const opentelemetry::proto::trace::v1::Span&)> span;
  std::function<size_t(const opentelemetry::proto::logs::v1::LogRecord&)> log;
};
std::vector<std::shared_ptr<Telemetry>> PartitionItems(const Telemetry& data, size_t parts,
                                                       const ItemClassifier& classify);

}  // namespace otlpd
