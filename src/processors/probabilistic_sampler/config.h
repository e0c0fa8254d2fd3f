#pragma once

#include <cstdint>
#include <string>

#include "core/factory.h"
#include "processors/consistent_sampling/threshold.h"

namespace otlpd {

// otelcol-contrib's probabilistic_sampler settings (same keys, defaults and validation).
struct ProbabilisticSamplerConfig : ComponentConfig {
  // Percent of items kept; >= 100 keeps all, 0 none. otelcol reads it as a float32.
  float sampling_percentage = 0;
  uint32_t hash_seed = 0;
  // "hash_seed", "proportional" or "equalizing"; "" = unset: hash_seed when hash_seed is set
  // (or, for logs, attribute_source is "record"), proportional otherwise (otelcol's rule).
  std::string mode;
  bool fail_closed = true;
  int sampling_precision = consistent_sampling::kDefaultPrecision;
  // Logs only.
  std::string attribute_source = "traceID";
  std::string from_attribute;
  std::string sampling_priority;
};

}  // namespace otlpd
