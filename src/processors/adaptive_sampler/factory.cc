#include "processors/adaptive_sampler/factory.h"

#include "absl/strings/str_cat.h"
#include "processors/adaptive_sampler/adaptive_sampler.h"
#include "processors/adaptive_sampler/config.h"

namespace otlpd {

namespace {

class AdaptiveSamplerFactory : public ProcessorFactory {
 public:
  std::string_view type() const override { return "adaptive_sampler"; }
  SignalSet signals() const override { return SignalSet{Signal::kTraces}; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<AdaptiveSamplerConfig>();
    AdaptiveSamplerConfig& c = *config;
    const bool spans = node.Get("goal_spans_per_second", &c.goal_spans_per_second);
    const bool traces = node.Get("goal_traces_per_second", &c.goal_traces_per_second);
    if (spans == traces) {
      node.Error(spans ? "goal_traces_per_second" : "",
                 "give one of \"goal_spans_per_second\" or \"goal_traces_per_second\"");
    } else if (!(c.goal_spans_per_second > 0 || c.goal_traces_per_second > 0)) {
      node.Error(spans ? "goal_spans_per_second" : "goal_traces_per_second",
                 "must be greater than zero");
    }
    node.Get("key_attribute", &c.key_attribute);
    int64_t max_keys = static_cast<int64_t>(c.max_keys);
    if (node.Get("max_keys", &max_keys)) {
      if (max_keys < 1) {
        node.Error("max_keys", "must be at least 1");
      } else {
        c.max_keys = static_cast<size_t>(max_keys);
      }
    }
    if (node.GetDuration("adjustment_interval", &c.adjustment_interval) &&
        c.adjustment_interval <= absl::ZeroDuration()) {
      node.Error("adjustment_interval", "must be greater than zero");
    }
    if (node.Get("smoothing", &c.smoothing) && !(c.smoothing > 0 && c.smoothing <= 1)) {
      node.Error("smoothing", "must be in (0, 1]");
    }
    for (auto [key, value] : {std::pair{"min_sampling_percentage", &c.min_sampling_percentage},
                              {"max_sampling_percentage", &c.max_sampling_percentage},
                              {"initial_sampling_percentage", &c.initial_sampling_percentage}}) {
      if (node.Get(key, value) && !(*value > 0 && *value <= 100)) {
        node.Error(key, "must be in (0, 100]");
      }
    }
    if (c.min_sampling_percentage > c.max_sampling_percentage) {
      node.Error("min_sampling_percentage",
                 "\"min_sampling_percentage\" is greater than \"max_sampling_percentage\"");
    }
    if (c.min_sampling_percentage / 100 < consistent_sampling::kMinProbability) {
      node.Error("min_sampling_percentage", "is below the smallest probability, 2^-56");
    }
    node.Get("sampling_precision", &c.sampling_precision);
    if (c.sampling_precision < 1 || c.sampling_precision > consistent_sampling::kMaxPrecision) {
      node.Error("sampling_precision", "must be between 1 and 14");
    }
    node.Get("fail_closed", &c.fail_closed);
    return config;
  }

  absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config, Signal signal,
                                                    ConsumerPtr next) const override {
    (void)signal;
    if (next == nullptr) {
      return absl::InvalidArgumentError("adaptive_sampler processor needs a next consumer");
    }
    return std::make_unique<AdaptiveSampler>(settings, ConfigAs<AdaptiveSamplerConfig>(config),
                                             std::move(next));
  }
};

}  // namespace

std::unique_ptr<ProcessorFactory> NewAdaptiveSamplerFactory() {
  return std::make_unique<AdaptiveSamplerFactory>();
}

}  // namespace otlpd
