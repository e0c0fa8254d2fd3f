#include "extensions/jaegerremotesampling/adaptive.h"

#include <algorithm>

namespace otlpd {

namespace {
// The most a probability grows in one interval.
constexpr double kMaxIncreaseFactor = 2;
}  // namespace

void AdaptiveSampler::ObserveTraces(std::string_view service, std::string_view operation,
                                    uint64_t traces) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = services_.try_emplace(std::string(service));
  Service& s = it->second;
  if (inserted) s.probability = config_.initial_sampling_probability;
  auto [op_it, op_inserted] = s.operations.try_emplace(std::string(operation));
  if (op_inserted) op_it->second.probability = s.probability;
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
    if (service.operations.empty()) continue;
    const double share =
        config_.target_traces_per_second / static_cast<double>(service.operations.size());
    // The service's unsampled rate: the sum of its operations' estimates.
    double unsampled_rate = 0;
    bool any = false;
    for (auto& [op_name, op] : service.operations) {
      if (op.observed > 0 && op.probability > 0) {
        unsampled_rate += static_cast<double>(op.observed) / seconds / op.probability;
        any = true;
      }
      op.probability = Next(op.probability, op.observed, seconds, share);
      op.observed = 0;
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
