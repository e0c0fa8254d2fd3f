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
// heap. While RSS plus an estimate of the data it has let through and not yet seen
// completed downstream is at or above the soft limit (limit - spike), it refuses new data
// with a retryable kUnavailable; above the hard limit it also hands freed heap back to the
// OS. Data it accepts is passed on untouched.
class MemoryLimiterProcessor : public Processor {
 public:
  MemoryLimiterProcessor(const CreateSettings& settings, const MemoryLimiterConfig& config,
                         MemoryLimits limits, Signal signal, ConsumerPtr next);
  ~MemoryLimiterProcessor() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

  const MemoryLimits& limits() const { return limits_; }
  // Bytes accepted and not yet completed downstream (estimated).
  int64_t in_flight_bytes() const { return in_flight_->load(std::memory_order_relaxed); }
  uint64_t last_rss() const { return rss_.load(std::memory_order_relaxed); }

 private:
  // Reads RSS; returns it.
  uint64_t Measure();
  // Measures when the last reading is older than refresh_interval_.
  uint64_t CurrentRss();
  void UpdateRefusing(bool refusing, uint64_t usage);
  void CheckLoop();

  const std::string id_;
  const MemoryLimits limits_;
  const absl::Duration check_interval_;
  const absl::Duration retry_after_;
  const int64_t refresh_interval_ns_;
  const absl::Duration trim_interval_soft_;
  const absl::Duration trim_interval_hard_;
  const ConsumerPtr next_;

  std::unique_ptr<MetricsRegistry> own_metrics_;  // when the host gives none (tests)
  Counter* accepted_;
  Counter* refused_;

  std::atomic<uint64_t> rss_{0};
  std::atomic<int64_t> last_measure_ns_{0};
  std::atomic<bool> refusing_{false};
  // Shared with completions, which may run after the processor is gone.
  std::shared_ptr<std::atomic<int64_t>> in_flight_ = std::make_shared<std::atomic<int64_t>>(0);

  absl::Mutex mu_;
  absl::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_trim_ = absl::InfinitePast();  // check thread only
  std::thread checker_;
};

}  // namespace otlpd
