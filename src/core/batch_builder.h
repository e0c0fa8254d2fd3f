#pragma once

#include <cstddef>
#include <vector>

#include "core/telemetry.h"

namespace otlpd {

// The items [begin, end) of one request (spans, metric data points or log records, in the
// order CountItems walks them); `total` is the request's item count.
struct ItemRange {
  TelemetryPtr data;
  size_t begin = 0;
  size_t end = 0;
  size_t total = 0;
};

// Builds one request of `signal` holding the items of `ranges`, in order: resources are
// concatenated, a resource or scope cut by a range boundary is repeated (same resource,
// scope and schema_url) in each part, and a Metric cut inside its data points keeps its
// name, description, unit, metadata and aggregation settings in each part.
//
// Nothing is copied. When every range is a whole request whose encoding is at hand, the
// result is the concatenation of those encodings (which is the encoding of the merged
// request). Otherwise its messages point into the sources' arenas and it keeps the sources
// alive: sound because every Telemetry is immutable once shared, and a message on an arena
// never frees the sub-messages it points to. A single range covering a whole request
// returns that request itself. The result carries the first range's client metadata:
// callers only merge requests whose metadata they consider equal.
TelemetryPtr BuildBatch(Signal signal, const std::vector<ItemRange>& ranges);

}  // namespace otlpd
