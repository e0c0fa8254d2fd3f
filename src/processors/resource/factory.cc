#include "processors/resource/factory.h"

#include "processors/resource/config.h"
#include "processors/resource/resource_processor.h"

namespace otlpd {

namespace {

class ResourceProcessorFactory : public ProcessorFactory {
 public:
  std::string_view type() const override { return "resource"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<ResourceProcessorConfig>();
    config->actions = attraction::ParseActions(node, "attributes");
    return config;
  }

  absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config, Signal signal,
                                                    ConsumerPtr next) const override {
    if (next == nullptr) {
      return absl::InvalidArgumentError("resource processor needs a next consumer");
    }
    return std::make_unique<ResourceProcessor>(settings, ConfigAs<ResourceProcessorConfig>(config),
                                               signal, std::move(next));
  }
};

}  // namespace

std::unique_ptr<ProcessorFactory> NewResourceProcessorFactory() {
  return std::make_unique<ResourceProcessorFactory>();
}

}  // namespace otlpd
