#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/component.h"
#include "core/config_node.h"
#include "core/factory.h"
#include "core/registry.h"
#include "core/signal.h"

namespace otlpd {

struct PipelineConfig {
  std::string id;  // "traces", "traces/edge"
  Signal signal = Signal::kTraces;
  // Receivers and exporters may name connectors (ids in Config::connectors).
  std::vector<ComponentId> receivers;
  std::vector<ComponentId> processors;
  std::vector<ComponentId> exporters;
};

struct TelemetryConfig {
  std::string log_level = "info";                  // service.telemetry.logs.level
  std::string log_encoding = "console";            // service.telemetry.logs.encoding
  bool metrics_enabled = true;                     // service.telemetry.metrics.level != none
  std::string metrics_address = "127.0.0.1:8888";  // service.telemetry.metrics.address
};

// A parsed and validated otelcol-style configuration.
struct Config {
  std::map<ComponentId, std::unique_ptr<ComponentConfig>> receivers;
  std::map<ComponentId, std::unique_ptr<ComponentConfig>> processors;
  std::map<ComponentId, std::unique_ptr<ComponentConfig>> exporters;
  std::map<ComponentId, std::unique_ptr<ComponentConfig>> extensions;
  std::map<ComponentId, std::unique_ptr<ComponentConfig>> connectors;
  std::vector<ComponentId> service_extensions;
  // In an order where every pipeline comes after the pipelines that feed it through a
  // connector (the graph has no cycles once the config is valid).
  std::vector<PipelineConfig> pipelines;
  TelemetryConfig telemetry;
};

// Parses YAML text into a Config. Every problem found (YAML syntax, unknown component type,
// unknown key, wrong value type, undefined or unsupported component in a pipeline, ...) is
// added to `diag` with its key path and line; the Config is usable only if diag->ok().
std::unique_ptr<Config> ParseConfig(std::string_view yaml_text, const ComponentRegistry& registry,
                                    Diagnostics* diag);

// The configuration used when otlpd starts without --config: config/default.yaml,
// compiled in.
std::string_view DefaultConfigYaml();

}  // namespace otlpd
