#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "extensions/jaegerremotesampling/strategies.h"

namespace otlpd {

// source.adaptive's settings (ours).
struct AdaptiveSamplingConfig {
  // Traces per second each service should keep, shared equally among its operations.
  double target_traces_per_second = 1;
  double min_sampling_probability = 1e-5;
  double max_sampling_probability = 1;
  // For services and operations not seen yet (Jaeger's initial_sampling_probability).
  double initial_sampling_probability = 0.001;
  // How often the probabilities are recomputed from what was observed since the last time.
  absl::Duration calculation_interval = absl::Seconds(10);
};

// Probabilities computed from observed (already sampled) traffic toward a target rate.
//
// Every interval, for each service and each of its operations: the kept rate r (root spans
// observed / interval) was produced with the probability p handed out, so the rate before
// sampling is about r / p, and the probability that keeps the operation's share of the
// target (target / operations of the service) is share / (r / p), clamped to [min, max].
// A probability rises at most 2x per interval: a rate estimated from few traces is noisy,
// and a client may not have fetched the last probability yet. An operation observed with
// no traces in an interval (p too small to keep any) doubles. The service's own
// probability (for operations not seen yet) is computed the same way from its total rate
// and the whole target.
//
// Memory stays bounded whatever the span names' cardinality: at most kMaxServices services
// and kMaxOperationsPerService operations each (the traces of others count toward their
// service only, or, for services past the limit, are ignored); an operation without a
// trace for kForgetAfterIntervals intervals is forgotten.
//
// Thread-safe: ObserveTraces from pipeline threads, Recalculate from the extension's
// timer (or a test, with the interval it simulates), StrategyFor from HTTP handlers.
class AdaptiveSampler {
 public:
  static constexpr size_t kMaxServices = 10000;
  static constexpr size_t kMaxOperationsPerService = 500;
  static constexpr int kForgetAfterIntervals = 100;

  explicit AdaptiveSampler(const AdaptiveSamplingConfig& config) : config_(config) {}

  void ObserveTraces(std::string_view service, std::string_view operation, uint64_t traces);
  // Turns what was observed during the last `elapsed` into new probabilities.
  void Recalculate(absl::Duration elapsed);
  SamplingStrategy StrategyFor(std::string_view service) const;
  absl::Duration calculation_interval() const { return config_.calculation_interval; }

 private:
  struct Operation {
    uint64_t observed = 0;  // since the last Recalculate
    double probability;
    int idle_intervals = 0;  // consecutive intervals without a trace
  };
  struct Service {
    double probability;
    absl::flat_hash_map<std::string, Operation> operations;
    // Traces of operations past kMaxOperationsPerService since the last Recalculate: they
    // count toward the service's rate and get its probability.
    uint64_t overflow_observed = 0;
  };
  double Next(double probability, uint64_t observed, double seconds, double target) const;

  const AdaptiveSamplingConfig config_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Service> services_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otlpd
