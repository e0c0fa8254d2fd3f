#include "processors/batch/factory.h"

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "processors/batch/batch_processor.h"
#include "processors/batch/config.h"

namespace otlpd {

namespace {

class BatchProcessorFactory : public ProcessorFactory {
 public:
  std::string_view type() const override { return "batch"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<BatchProcessorConfig>();
    node.Get("send_batch_size", &config->send_batch_size);
    node.Get("send_batch_max_size", &config->send_batch_max_size);
    node.GetDuration("timeout", &config->timeout);
    std::vector<std::string> keys;
    if (node.Get("metadata_keys", &keys)) {
      for (std::string& k : keys) {
        absl::AsciiStrToLower(&k);
        if (std::find(config->metadata_keys.begin(), config->metadata_keys.end(), k) !=
            config->metadata_keys.end()) {
          node.Error("metadata_keys", absl::StrCat("duplicate entry in metadata_keys: \"", k,
                                                   "\" (case-insensitive)"));
          continue;
        }
        config->metadata_keys.push_back(k);
      }
      std::sort(config->metadata_keys.begin(), config->metadata_keys.end());
    }
    if (node.Get("metadata_cardinality_limit", &config->metadata_cardinality_limit) &&
        config->metadata_cardinality_limit < 0) {
      node.Error("metadata_cardinality_limit", "metadata_cardinality_limit must not be negative");
    }
    if (config->send_batch_size < 0) {
      node.Error("send_batch_size", "send_batch_size must not be negative");
    }
    if (config->send_batch_max_size < 0) {
      node.Error("send_batch_max_size", "send_batch_max_size must not be negative");
    } else if (config->send_batch_max_size > 0 &&
               config->send_batch_max_size < config->send_batch_size) {
      node.Error("send_batch_max_size",
                 "send_batch_max_size must be greater or equal to send_batch_size");
    }
    ConfigNode adaptive = node.Child("adaptive");
    BatchProcessorConfig::Adaptive& a = config->adaptive;
    adaptive.Get("enabled", &a.enabled);
    if (adaptive.GetDuration("target_latency", &a.target_latency) &&
        a.target_latency <= absl::ZeroDuration()) {
      adaptive.Error("target_latency", "target_latency must be positive");
    }
    if (adaptive.Get("min_send_batch_size", &a.min_send_batch_size) && a.min_send_batch_size < 1) {
      adaptive.Error("min_send_batch_size", "min_send_batch_size must be at least 1");
    }
    const bool max_given = adaptive.Get("max_send_batch_size", &a.max_send_batch_size);
    // send_batch_max_size bounds the adaptive size too (only checked when it is on).
    const int64_t hard_max = a.enabled && config->send_batch_max_size > 0
                                 ? config->send_batch_max_size
                                 : std::numeric_limits<int64_t>::max();
    if (!max_given) a.max_send_batch_size = std::min(a.max_send_batch_size, hard_max);
    if (a.max_send_batch_size < a.min_send_batch_size) {
      if (max_given) {
        adaptive.Error("max_send_batch_size",
                       "max_send_batch_size must be greater or equal to min_send_batch_size");
      } else {
        adaptive.Error("min_send_batch_size",
                       "min_send_batch_size must not exceed send_batch_max_size");
      }
    } else if (a.max_send_batch_size > hard_max) {
      adaptive.Error("max_send_batch_size",
                     "max_send_batch_size must not exceed send_batch_max_size");
    }
    if (config->timeout < absl::ZeroDuration()) {
      node.Error("timeout", "timeout must be greater or equal to 0");
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config, Signal signal,
                                                    ConsumerPtr next) const override {
    if (next == nullptr) return absl::InvalidArgumentError("batch processor needs a next consumer");
    return std::make_unique<BatchProcessor>(settings, ConfigAs<BatchProcessorConfig>(config),
                                            signal, std::move(next));
  }
};

}  // namespace

std::unique_ptr<ProcessorFactory> NewBatchProcessorFactory() {
  return std::make_unique<BatchProcessorFactory>();
}

}  // namespace otlpd
