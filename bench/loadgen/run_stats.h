// Counters one driver thread fills while it runs, merged at the end.
#ifndef OTLPD_BENCH_LOADGEN_RUN_STATS_H_
#define OTLPD_BENCH_LOADGEN_RUN_STATS_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "latency_histogram.h"

namespace otlpd::loadgen {

using Clock = std::chrono::steady_clock;

// Only requests that complete inside [measure_start, measure_end) are measured; the
// rest (warm-up, and anything still in flight at the end) is counted separately.
struct RunWindow {
  Clock::time_point measure_start;
  Clock::time_point measure_end;

  bool Contains(Clock::time_point t) const { return t >= measure_start && t < measure_end; }
};

struct RunStats {
  // Inside the measurement window.
  int64_t ok_requests = 0;
  int64_t ok_spans = 0;
  // Spans the server reported as rejected inside an OK response (OTLP partial success).
  int64_t rejected_spans = 0;
  int64_t error_requests = 0;
  std::map<std::string, int64_t> errors;  // by status, e.g. "grpc:UNAVAILABLE", "http:503"
  LatencyHistogram latency;
  // Outside the window (warm-up or drained after the end).
  int64_t unmeasured_ok_requests = 0;
  int64_t unmeasured_error_requests = 0;
  std::map<std::string, int64_t> unmeasured_errors;

  // Records one completed request.
  void RecordOk(const RunWindow& window, Clock::time_point sent, Clock::time_point done,
                int64_t spans, int64_t rejected);
  void RecordError(const RunWindow& window, Clock::time_point done, const std::string& status);

  void Merge(const RunStats& other);
};

}  // namespace otlpd::loadgen

#endif  // OTLPD_BENCH_LOADGEN_RUN_STATS_H_
