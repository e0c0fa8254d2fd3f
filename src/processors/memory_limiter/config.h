#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "core/factory.h"

namespace otlpd {

// otelcol's memory_limiter settings (same keys). Limits are given either in MiB or as a
// percentage of the memory available to the process (cgroup limit, else MemTotal).
struct MemoryLimiterConfig : ComponentConfig {
  absl::Duration check_interval = absl::ZeroDuration();  // required, > 0
  int64_t limit_mib = 0;
  int64_t spike_limit_mib = 0;  // 0: 20% of the limit
  int64_t limit_percentage = 0;
  int64_t spike_limit_percentage = 0;  // 0: 20% of the limit
  // otelcol runs the Go GC at most this often; we return freed heap to the OS (jemalloc
  // purge, malloc_trim) at most this often while over the soft / hard limit. 0: every check.
  absl::Duration min_gc_interval_when_soft_limited = absl::Seconds(10);
  absl::Duration min_gc_interval_when_hard_limited = absl::ZeroDuration();
};

}  // namespace otlpd
