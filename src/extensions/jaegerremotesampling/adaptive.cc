#include "extensions/jaegerremotesampling/adaptive.h"

#include <algorithm>

namespace otlpd {

namespace {
// The most a probability grows in one interval.
constexpr double kMaxIncreaseFactor = 2;
}  // namespace

void AdaptiveSampler::ObserveTraces(std::string_view service, std::string_view operation,
                                    uint64_t traces) {
  const std::string service_name(service);
  absl::MutexLock lock(&mu_);
  auto it = services_.find(service_name);
  if (it == services_.end()) {
    if (services_.size() >= kMaxServices) return;
    it = services_.emplace(service_name, Service{}).first;
    it->second.probability = config_.initial_sampling_probability;
  }
  Service& s = it->second;
  const std::string operation_name(operation);
  auto op_it = s.operations.find(operation_name);
  if (op_it == s.operations.end()) {
    if (s.operations.size() >= kMaxOperationsPerService) {
      s.overflow_observed += traces;
      return;
    }
    op_it = s.operations.emplace(operation_name, Operation{}).first;
    op_it->second.probability = s.probability;
  }
  op_it->second.observed += traces;
}

double AdaptiveSampler::Next(double probability, uint64_t observed, double seconds,
                             double target) const {
  double next = probability * kMaxIncreaseFactor;
  if (observed > 0 && probability > 0) {
    const double unsampled_rate = static_cast<double>(observed) / seconds / probability;
    next = std::min(next, target / unsampled_rate);
  }
  return std::clamp(next, config_.min_sampling_probability, config_.max_sampling_probability);
}

void AdaptiveSampler::Recalculate(absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  if (seconds <= 0) return;
  absl::MutexLock lock(&mu_);
  for (auto& [name, service] : services_) {
    if (service.operations.empty() && service.overflow_observed == 0) continue;
    const double share = config_.target_traces_per_second /
                         static_cast<double>(std::max<size_t>(1, service.operations.size()));
    // The service's unsampled rate: the sum of its operations' estimates.
    double unsampled_rate = 0;
    bool any = false;
    if (service.overflow_observed > 0 && service.probability > 0) {
      unsampled_rate +=
          static_cast<double>(service.overflow_observed) / seconds / service.probability;
      any = true;
    }
    service.overflow_observed = 0;
    for (auto it = service.operations.begin(); it != service.operations.end();) {
      Operation& op = it->second;
      if (op.observed > 0 && op.probability > 0) {
        unsampled_rate += static_cast<double>(op.observed) / seconds / op.probability;
        any = true;
      }
      op.idle_intervals = op.observed > 0 ? 0 : op.idle_intervals + 1;
      if (op.idle_intervals > kForgetAfterIntervals) {
        service.operations.erase(it++);
        continue;
      }
      op.probability = Next(op.probability, op.observed, seconds, share);
      op.observed = 0;
      ++it;
    }
    double next = service.probability * kMaxIncreaseFactor;
    if (any) next = std::min(next, config_.target_traces_per_second / unsampled_rate);
    service.probability =
        std::clamp(next, config_.min_sampling_probability, config_.max_sampling_probability);
  }
}

SamplingStrategy AdaptiveSampler::StrategyFor(std::string_view service) const {
  SamplingStrategy strategy;
  SamplingStrategy::Operations operations;
  operations.default_probability = config_.initial_sampling_probability;
  {
    absl::MutexLock lock(&mu_);
    auto it = services_.find(std::string(service));
    if (it != services_.end()) {
      operations.default_probability = it->second.probability;
      for (const auto& [name, op] : it->second.operations) {
        operations.probabilities.emplace_back(name, op.probability);
      }
    }
  }
  std::sort(operations.probabilities.begin(), operations.probabilities.end());
  strategy.probability = operations.default_probability;
  strategy.operations = std::move(operations);
  return strategy;
}

}  // namespace otlpd
