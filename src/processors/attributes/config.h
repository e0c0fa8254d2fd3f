#pragma once

#include <optional>
#include <vector>

#include "core/factory.h"
#include "processors/attraction/actions.h"
#include "processors/attributes/matcher.h"

namespace otlpd {

// otelcol-contrib's attributes processor settings (same keys): `actions`, applied in order
// to the attributes of every span, log record or metric data point that `include` matches
// and `exclude` does not.
struct AttributesProcessorConfig : ComponentConfig {
  std::vector<attraction::Action> actions;
  std::optional<MatchProperties> include;
  std::optional<MatchProperties> exclude;
};

}  // namespace otlpd
