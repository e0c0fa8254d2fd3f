#pragma once

#include <array>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/component.h"
#include "core/config_node.h"
#include "core/consumer.h"
#include "core/signal.h"

namespace otlpd {

// Base of every component's typed config struct.
class ComponentConfig {
 public:
  virtual ~ComponentConfig() = default;
};

template <class T>
const T& ConfigAs(const ComponentConfig& c) {
  return static_cast<const T&>(c);
}

// Per-signal consumers a receiver feeds: the heads of every pipeline that lists it (already
// fanned out when several do). Null for a signal no pipeline takes from it.
struct ReceiverConsumers {
  std::array<ConsumerPtr, 3> by_signal;
  const ConsumerPtr& For(Signal s) const { return by_signal[static_cast<int>(s)]; }
};

// Factories parse and validate their component's config (ParseConfig: problems go to the
// node's diagnostics, never exceptions), and build components from a valid config.
// `otlpd validate` runs only ParseConfig, so it must not bind ports or touch files.
class ReceiverFactory {
 public:
  virtual ~ReceiverFactory() = default;
  virtual std::string_view type() const = 0;
  virtual SignalSet signals() const = 0;
  virtual std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const = 0;
  virtual absl::StatusOr<std::unique_ptr<Receiver>> Create(const CreateSettings& settings,
                                                           const ComponentConfig& config,
                                                           const ReceiverConsumers& next) const = 0;
};

class ProcessorFactory {
 public:
  virtual ~ProcessorFactory() = default;
  virtual std::string_view type() const = 0;
  virtual SignalSet signals() const = 0;
  virtual std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const = 0;
  // One instance per pipeline (as in otelcol), bound to that pipeline's signal.
  virtual absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                            const ComponentConfig& config,
                                                            Signal signal,
                                                            ConsumerPtr next) const = 0;
};

class ExporterFactory {
 public:
  virtual ~ExporterFactory() = default;
  virtual std::string_view type() const = 0;
  virtual SignalSet signals() const = 0;
  virtual std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const = 0;
  virtual absl::StatusOr<std::unique_ptr<Exporter>> Create(const CreateSettings& settings,
                                                           const ComponentConfig& config) const = 0;
};

// A connector joins pipelines: listed among the exporters of pipelines of signal `from`
// and the receivers of pipelines of signal `to`. The graph creates one instance per
// (from, to) pair in use; `next` feeds every `to` pipeline that lists it.
class ConnectorFactory {
 public:
  virtual ~ConnectorFactory() = default;
  virtual std::string_view type() const = 0;
  virtual bool Supports(Signal from, Signal to) const = 0;
  virtual std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const = 0;
  virtual absl::StatusOr<std::unique_ptr<Connector>> Create(const CreateSettings& settings,
                                                            const ComponentConfig& config,
                                                            Signal from, Signal to,
                                                            ConsumerPtr next) const = 0;
};

class ExtensionFactory {
 public:
  virtual ~ExtensionFactory() = default;
  virtual std::string_view type() const = 0;
  virtual std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const = 0;
  virtual absl::StatusOr<std::unique_ptr<Extension>> Create(
      const CreateSettings& settings, const ComponentConfig& config) const = 0;
};

}  // namespace otlpd
