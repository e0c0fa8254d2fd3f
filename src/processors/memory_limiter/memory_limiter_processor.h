#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/component.h"
#include "core/metrics.h"
#include "processors/memory_limiter/config.h"
#include "processors/memory_limiter/memory.h"

namespace otlpd {

// otelcol's memory_limiter for one pipeline, measuring the process RSS instead of the Go
// heap. While the process's MemoryAccount estimate (last RSS reading + data let in since +
// data not yet completed downstream) is at or above the soft limit (limit - spike), and a
// fresh RSS reading confirms it, it refuses new data with a retryable kUnavailable. At the
// check interval it re-reads RSS and, above the limits, hands freed heap back to the OS.
// Data it accepts is passed on untouched.
class MemoryLimiterProcessor : public Processor {
 public:
  MemoryLimiterProcessor(const CreateSettings& settings, const MemoryLimiterConfig& config,
                         MemoryLimits limits, Signal signal, ConsumerPtr next);
  ~MemoryLimiterProcessor() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

  const MemoryLimits& limits() const { return limits_; }
  // Bytes accepted and not yet completed downstream (estimated), by all limiters.
  int64_t in_flight_bytes() const { return account_.in_flight(); }
  uint64_t last_rss() const { return account_.rss(); }

  // Estimated size in memory of a request.
  static int64_t EstimateSize(const Telemetry& data);

 private:
  // The usage estimate once it has reached the soft limit: re-reads RSS when that can
  // change the answer.
  uint64_t RecheckUsage();
  void UpdateRefusing(bool refusing, uint64_t usage);
  void CheckLoop();

  const std::string id_;
  const MemoryLimits limits_;
  const absl::Duration check_interval_;
  const absl::Duration retry_after_;
  const absl::Duration trim_interval_soft_;
  const absl::Duration trim_interval_hard_;
  const ConsumerPtr next_;

  std::unique_ptr<MetricsRegistry> own_metrics_;  // when the host gives none (tests)
  Counter* accepted_;
  Counter* refused_;

  MemoryAccount& account_ = MemoryAccount::Process();
  std::atomic<bool> refusing_{false};

  absl::Mutex mu_;
  absl::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_trim_ = absl::InfinitePast();  // check thread only
  bool eager_release_ = false;                   // check thread, then Shutdown
  std::thread checker_;
};

}  // namespace otlpd
