#pragma once

#include <cstdint>

#include "core/factory.h"

namespace otlpd {

enum class DebugVerbosity { kBasic, kNormal, kDetailed };

// otelcol's debug exporter settings (same keys and defaults).
struct DebugExporterConfig : ComponentConfig {
  DebugVerbosity verbosity = DebugVerbosity::kBasic;
  // Per signal and second: the first `sampling_initial` requests are logged, then every
  // `sampling_thereafter`-th one (0: none).
  int64_t sampling_initial = 2;
  int64_t sampling_thereafter = 1;
  // false: print to stdout directly instead of through the collector's logger.
  bool use_internal_logger = true;
};

}  // namespace otlpd
