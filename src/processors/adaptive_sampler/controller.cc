#include "processors/adaptive_sampler/controller.h"

#include <algorithm>

namespace otlpd {

consistent_sampling::Stage AdaptiveController::Key::stage() const {
  return consistent_sampling::Stage::Proportional(probability(), precision_);
}

AdaptiveController::AdaptiveController(Options options, int64_t now_ns)
    : options_(options), next_adjust_ns_(now_ns + options.interval_ns), last_adjust_ns_(now_ns) {}

std::shared_ptr<AdaptiveController::Key> AdaptiveController::Find(std::string_view name,
                                                                  bool* created) {
  if (created != nullptr) *created = false;
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(absl::string_view(name.data(), name.size()));
  if (it != keys_.end()) return it->second;
  const bool overflow = keys_.size() >= options_.max_keys;
  if (overflow && overflow_ != nullptr) return overflow_;
  auto key = std::make_shared<Key>();
  key->name_ = overflow ? std::string(kOverflowKey) : std::string(name);
  key->precision_ = options_.precision;
  key->probability_.store(
      std::clamp(options_.initial_probability, options_.min_probability, options_.max_probability),
      std::memory_order_relaxed);
  if (created != nullptr) *created = true;
  if (overflow) {
    overflow_ = key;
  } else {
    keys_.emplace(std::string(name), key);
  }
  return key;
}

bool AdaptiveController::MaybeAdjust(int64_t now_ns) {
  if (now_ns < next_adjust_ns_.load(std::memory_order_relaxed)) return false;
  absl::MutexLock lock(&mu_);
  if (now_ns < next_adjust_ns_.load(std::memory_order_relaxed)) return false;  // another did
  AdjustLocked(now_ns);
  return true;
}

void AdaptiveController::AdjustLocked(int64_t now_ns) {
  const double elapsed_s = static_cast<double>(now_ns - last_adjust_ns_) / 1e9;
  last_adjust_ns_ = now_ns;
  next_adjust_ns_.store(now_ns + options_.interval_ns, std::memory_order_relaxed);
  if (elapsed_s <= 0) return;
  auto adjust = [&](Key& key) {
    const double rate = static_cast<double>(key.arrived_.exchange(0)) / elapsed_s;
    key.smoothed_rate_ =
        key.measured_ ? options_.smoothing * rate + (1 - options_.smoothing) * key.smoothed_rate_
                      : rate;
    key.measured_ = true;
    const double wanted = key.smoothed_rate_ > 0 ? options_.goal_per_second / key.smoothed_rate_
                                                 : options_.max_probability;
    key.probability_.store(std::clamp(wanted, options_.min_probability, options_.max_probability),
                           std::memory_order_relaxed);
  };
  for (auto& [name, key] : keys_) adjust(*key);
  if (overflow_ != nullptr) adjust(*overflow_);
}

std::vector<std::shared_ptr<AdaptiveController::Key>> AdaptiveController::Keys() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Key>> out;
  for (const auto& [name, key] : keys_) out.push_back(key);
  if (overflow_ != nullptr) out.push_back(overflow_);
  return out;
}

}  // namespace otlpd
