#pragma once

#include "core/metrics.h"

namespace otlpd {

// otelcol's process self-metrics: otelcol_process_memory_rss, otelcol_process_cpu_seconds
// and otelcol_process_uptime (from now).
void RegisterProcessMetrics(MetricsRegistry* metrics);

}  // namespace otlpd
