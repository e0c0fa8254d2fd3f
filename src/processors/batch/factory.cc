#include "processors/batch/factory.h"

#include <algorithm>

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
