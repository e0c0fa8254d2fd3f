#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "core/factory.h"
#include "processors/attributes/matcher.h"
#include "processors/filter/ottl.h"

namespace otlpd {

// otelcol-contrib's filter processor settings (same keys): OTTL conditions per context
// (traces.span, traces.spanevent, metrics.metric, metrics.datapoint, logs.log_record); an
// item is dropped when any of its context's conditions matches. Also the legacy
// `spans: {include, exclude}` match properties.
struct FilterProcessorConfig : ComponentConfig {
  // What a condition that fails to evaluate (math on a string, ...) does: propagate fails
  // the request; ignore logs it and counts the condition as not matching; silent does not
  // log.
  enum class ErrorMode { kPropagate, kIgnore, kSilent };
  ErrorMode error_mode = ErrorMode::kPropagate;

  using Conditions = std::vector<ottl::Condition>;
  // Shared: one config serves every pipeline's processor instance.
  std::shared_ptr<const Conditions> span, spanevent, metric, datapoint, log_record;

  std::optional<MatchProperties> spans_include;
  std::optional<MatchProperties> spans_exclude;
};

}  // namespace otlpd
