#include "exporters/edge_sync/circuit_breaker.h"

namespace otlpd {

bool CircuitBreaker::Allow(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kOpen) {
    if (now < open_until_) return false;
    state_ = State::kHalfOpen;
    probes_ = 0;
  }
  if (state_ == State::kHalfOpen) {
    if (probes_ >= settings_.half_open_requests) return false;
    ++probes_;
  }
  return true;
}

void CircuitBreaker::Record(bool ok, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kHalfOpen) probes_ = std::max(0, probes_ - 1);
  if (ok) {
    failures_ = 0;
    state_ = State::kClosed;
    return;
  }
  ++failures_;
  if (state_ == State::kHalfOpen ||
      (state_ == State::kClosed && failures_ >= settings_.failure_threshold)) {
    state_ = State::kOpen;
    open_until_ = now + settings_.open_duration;
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

absl::Time CircuitBreaker::reopens_at() const {
  absl::MutexLock lock(&mu_);
  return state_ == State::kOpen ? open_until_ : absl::InfinitePast();
}

}  // namespace otlpd
