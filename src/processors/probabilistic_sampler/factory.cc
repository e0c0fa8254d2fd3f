#include "processors/probabilistic_sampler/factory.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "processors/probabilistic_sampler/config.h"
#include "processors/probabilistic_sampler/probabilistic_sampler.h"

namespace otlpd {

namespace {

class ProbabilisticSamplerFactory : public ProcessorFactory {
 public:
  std::string_view type() const override { return "probabilistic_sampler"; }
  SignalSet signals() const override { return SignalSet{Signal::kTraces, Signal::kLogs}; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<ProbabilisticSamplerConfig>();
    ProbabilisticSamplerConfig& c = *config;
    double percent = 0;
    if (node.Get("sampling_percentage", &percent)) {
      // otelcol reads a float32: beyond its range is infinite.
      c.sampling_percentage = std::fabs(percent) > std::numeric_limits<float>::max()
                                  ? std::numeric_limits<float>::infinity()
                                  : static_cast<float>(percent);
    }
    int64_t seed = 0;
    if (node.Get("hash_seed", &seed)) {
      if (seed < 0 || seed > 0xffffffffLL) {
        node.Error("hash_seed", "must be a 32-bit unsigned integer");
      } else {
        c.hash_seed = static_cast<uint32_t>(seed);
      }
    }
    node.GetEnum("mode", &c.mode, {"hash_seed", "proportional", "equalizing", ""});
    node.Get("fail_closed", &c.fail_closed);
    node.Get("sampling_precision", &c.sampling_precision);
    node.GetEnum("attribute_source", &c.attribute_source, {"traceID", "record"});
    node.Get("from_attribute", &c.from_attribute);
    node.Get("sampling_priority", &c.sampling_priority);

    // otelcol's Config.Validate, same wording.
    const double pct = c.sampling_percentage;
    if (std::isinf(pct) || std::isnan(pct)) {
      node.Error("sampling_percentage", absl::StrFormat("sampling rate is invalid: %f%%", pct));
    } else if (pct < 0) {
      node.Error("sampling_percentage", absl::StrFormat("sampling rate is negative: %f%%", pct));
    } else if (pct > 0 && pct / 100 < consistent_sampling::kMinProbability) {
      node.Error("sampling_percentage", absl::StrFormat("sampling rate is too small: %g%%", pct));
    }
    if (c.sampling_precision == 0) {
      node.Error("sampling_precision", "invalid sampling precision: 0");
    } else if (c.sampling_precision > consistent_sampling::kMaxPrecision) {
      node.Error(
          "sampling_precision",
          absl::StrCat("sampling precision is too great, should be <= 14: ", c.sampling_precision));
    } else if (c.sampling_precision < 0) {
      node.Error("sampling_precision",
                 absl::StrCat("invalid sampling precision: ", c.sampling_precision));
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config, Signal signal,
                                                    ConsumerPtr next) const override {
    if (next == nullptr) {
      return absl::InvalidArgumentError("probabilistic_sampler processor needs a next consumer");
    }
    return std::make_unique<ProbabilisticSampler>(
        settings, ConfigAs<ProbabilisticSamplerConfig>(config), signal, std::move(next));
  }
};

}  // namespace

std::unique_ptr<ProcessorFactory> NewProbabilisticSamplerFactory() {
  return std::make_unique<ProbabilisticSamplerFactory>();
}

}  // namespace otlpd
