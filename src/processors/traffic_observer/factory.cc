#include "processors/traffic_observer/factory.h"

#include "core/traffic_observer.h"
#include "processors/traffic_observer/config.h"
#include "processors/traffic_observer/traffic_observer_processor.h"

namespace otlpd {

namespace {

class TrafficObserverProcessorFactory : public ProcessorFactory {
 public:
  std::string_view type() const override { return "traffic_observer"; }
  SignalSet signals() const override { return {Signal::kTraces}; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<TrafficObserverConfig>();
    if (!node.GetExtensionRef("extension", &config->extension)) {
      node.Error("",
                 "extension is required: the id of the extension to feed (e.g. "
                 "jaegerremotesampling)");
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config, Signal signal,
                                                    ConsumerPtr next) const override {
    (void)signal;
    if (next == nullptr) {
      return absl::InvalidArgumentError("traffic_observer needs a next consumer");
    }
    if (settings.host == nullptr) {
      return absl::InvalidArgumentError("traffic_observer needs a host to find its extension");
    }
    const ComponentId& id = ConfigAs<TrafficObserverConfig>(config).extension;
    absl::StatusOr<TraceTrafficObserver*> observer = GetExtensionAs<TraceTrafficObserver>(
        *settings.host, id, "a traffic observer (e.g. jaegerremotesampling)");
    if (!observer.ok()) return observer.status();
    return std::make_unique<TrafficObserverProcessor>(*observer, std::move(next));
  }
};

}  // namespace

std::unique_ptr<ProcessorFactory> NewTrafficObserverProcessorFactory() {
  return std::make_unique<TrafficObserverProcessorFactory>();
}

}  // namespace otlpd
