#pragma once

#include <memory>
#include <string>

#include "core/component.h"
#include "core/log_throttle.h"
#include "processors/filter/config.h"

namespace otlpd {

// otelcol's filter processor for one pipeline. Like the attributes processor it works on
// the request's protobuf bytes: conditions read the fields they name straight from the
// bytes, and dropped items (with scopes and resources left empty, and metrics left without
// data points) are cut out of the encoding; a request nothing is dropped from is passed on
// as it came, and one everything is dropped from is acknowledged without going further
// (as otelcol's processorhelper.ErrSkipProcessingData).
class FilterProcessor : public Processor {
 public:
  FilterProcessor(const CreateSettings& settings, const FilterProcessorConfig& config,
                  Signal signal, ConsumerPtr next);

  void Consume(TelemetryPtr data, Completion done) override;

  // The request after filtering: `data` itself when nothing was dropped, null when
  // everything was; an error when a condition failed with error_mode: propagate.
  absl::StatusOr<TelemetryPtr> Process(TelemetryPtr data) const;

 private:
  friend class FilterWalker;

  const std::string id_;
  const Signal signal_;
  const FilterProcessorConfig config_;
  const ConsumerPtr next_;
  Counter* filtered_ = nullptr;  // otelcol_processor_filter_{spans,datapoints,logs}_filtered
  mutable LogThrottle error_log_;
  mutable LogThrottle malformed_log_;
};

}  // namespace otlpd
