#pragma once

#include <vector>

#include "core/factory.h"
#include "processors/attraction/actions.h"

namespace otlpd {

// otelcol-contrib's resource processor settings: `attributes`, the attribute actions applied
// to every resource's attributes.
struct ResourceProcessorConfig : ComponentConfig {
  std::vector<attraction::Action> actions;
};

}  // namespace otlpd
