#include "processors/memory_limiter/factory.h"

#include "absl/strings/str_cat.h"
#include "processors/memory_limiter/config.h"
#include "processors/memory_limiter/memory.h"
#include "processors/memory_limiter/memory_limiter_processor.h"

namespace otlpd {

namespace {

class MemoryLimiterProcessorFactory : public ProcessorFactory {
 public:
  std::string_view type() const override { return "memory_limiter"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<MemoryLimiterConfig>();
    MemoryLimiterConfig& c = *config;
    node.GetDuration("check_interval", &c.check_interval);
    node.Get("limit_mib", &c.limit_mib);
    node.Get("spike_limit_mib", &c.spike_limit_mib);
    node.Get("limit_percentage", &c.limit_percentage);
    node.Get("spike_limit_percentage", &c.spike_limit_percentage);
    node.GetDuration("min_gc_interval_when_soft_limited", &c.min_gc_interval_when_soft_limited);
    node.GetDuration("min_gc_interval_when_hard_limited", &c.min_gc_interval_when_hard_limited);

    // Same rules and wording as otelcol's memorylimiter Config.Validate.
    if (c.check_interval <= absl::ZeroDuration()) {
      node.Error("check_interval", "'check_interval' must be greater than zero");
    }
    if (c.limit_mib < 0 || c.spike_limit_mib < 0) {
      node.Error(c.limit_mib < 0 ? "limit_mib" : "spike_limit_mib", "must not be negative");
    }
    if (c.limit_mib <= 0 && c.limit_percentage <= 0) {
      node.Error("", "'limit_mib' or 'limit_percentage' must be greater than zero");
    }
    if (c.limit_percentage < 0 || c.limit_percentage > 100 || c.spike_limit_percentage < 0 ||
        c.spike_limit_percentage > 100) {
      node.Error(c.limit_percentage < 0 || c.limit_percentage > 100 ? "limit_percentage"
                                                                    : "spike_limit_percentage",
                 "'limit_percentage' and 'spike_limit_percentage' must be greater than zero and "
                 "less than or equal to hundred");
    }
    if (c.limit_mib > 0 && c.spike_limit_mib >= c.limit_mib) {
      node.Error("spike_limit_mib", "'spike_limit_mib' must be smaller than 'limit_mib'");
    }
    if (c.limit_mib <= 0 && c.limit_percentage > 0 &&
        c.spike_limit_percentage >= c.limit_percentage) {
      node.Error("spike_limit_percentage",
                 "'spike_limit_percentage' must be smaller than 'limit_percentage'");
    }
    if (c.min_gc_interval_when_soft_limited < absl::ZeroDuration()) {
      node.Error("min_gc_interval_when_soft_limited", "must not be negative");
    }
    if (c.min_gc_interval_when_hard_limited < absl::ZeroDuration()) {
      node.Error("min_gc_interval_when_hard_limited", "must not be negative");
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config, Signal signal,
                                                    ConsumerPtr next) const override {
    if (next == nullptr) {
      return absl::InvalidArgumentError("memory_limiter processor needs a next consumer");
    }
    const auto& c = ConfigAs<MemoryLimiterConfig>(config);
    uint64_t total = 0;
    if (c.limit_mib <= 0) {
      absl::StatusOr<uint64_t> available = AvailableMemory();
      if (!available.ok()) {
        return absl::FailedPreconditionError(absl::StrCat(
            settings.id.ToString(),
            ": cannot tell the total memory for limit_percentage: ", available.status().message()));
      }
      total = *available;
    }
    return std::make_unique<MemoryLimiterProcessor>(settings, c, ComputeLimits(c, total), signal,
                                                    std::move(next));
  }
};

}  // namespace

std::unique_ptr<ProcessorFactory> NewMemoryLimiterProcessorFactory() {
  return std::make_unique<MemoryLimiterProcessorFactory>();
}

}  // namespace otlpd
