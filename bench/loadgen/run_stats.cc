#include "run_stats.h"

namespace otlpd::loadgen {

void RunStats::RecordOk(const RunWindow& window, Clock::time_point sent, Clock::time_point done,
                        int64_t spans, int64_t rejected) {
  if (!window.Contains(done)) {
    ++unmeasured_ok_requests;
    return;
  }
  ++ok_requests;
  ok_spans += spans - rejected;
  rejected_spans += rejected;
  latency.Record(std::chrono::duration_cast<std::chrono::nanoseconds>(done - sent).count());
}

void RunStats::RecordError(const RunWindow& window, Clock::time_point done,
                           const std::string& status) {
  if (!window.Contains(done)) {
    ++unmeasured_error_requests;
    ++unmeasured_errors[status];
    return;
  }
  ++error_requests;
  ++errors[status];
}

void RunStats::Merge(const RunStats& other) {
  ok_requests += other.ok_requests;
  ok_spans += other.ok_spans;
  rejected_spans += other.rejected_spans;
  error_requests += other.error_requests;
  for (const auto& [status, count] : other.errors) errors[status] += count;
  latency.Merge(other.latency);
  unmeasured_ok_requests += other.unmeasured_ok_requests;
  unmeasured_error_requests += other.unmeasured_error_requests;
  for (const auto& [status, count] : other.unmeasured_errors) unmeasured_errors[status] += count;
}

}  // namespace otlpd::loadgen
