#pragma once

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "exporters/edge_sync/config.h"

namespace otlpd {

// One endpoint's circuit breaker (see CircuitBreakerSettings). Thread-safe; time is passed
// in so that tests can drive it.
class CircuitBreaker {
 public:
  enum class State { kClosed = 0, kOpen = 1, kHalfOpen = 2 };

  explicit CircuitBreaker(CircuitBreakerSettings settings) : settings_(settings) {}

  // Whether an attempt may go to the endpoint now; in half-open, takes a probe slot that
  // the attempt's Record gives back.
  bool Allow(absl::Time now);
  // The outcome of an attempt Allow let through: `ok` false for a failure of the endpoint
  // (unreachable, overloaded), not for a rejection of the data.
  void Record(bool ok, absl::Time now);
  State state() const;
  // When an open breaker lets a probe through (InfinitePast when not open).
  absl::Time reopens_at() const;

 private:
  const CircuitBreakerSettings settings_;
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kClosed;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  int probes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time open_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace otlpd
