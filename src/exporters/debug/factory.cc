#include "exporters/debug/factory.h"

#include "exporters/debug/config.h"
#include "exporters/debug/debug_exporter.h"

namespace otlpd {

namespace {

class DebugExporterFactory : public ExporterFactory {
 public:
  std::string_view type() const override { return "debug"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<DebugExporterConfig>();
    std::string verbosity = "basic";
    if (node.GetEnum("verbosity", &verbosity, {"basic", "normal", "detailed"})) {
      config->verbosity = verbosity == "detailed" ? DebugVerbosity::kDetailed
                          : verbosity == "normal" ? DebugVerbosity::kNormal
                                                  : DebugVerbosity::kBasic;
    }
    node.Get("sampling_initial", &config->sampling_initial);
    node.Get("sampling_thereafter", &config->sampling_thereafter);
    node.Get("use_internal_logger", &config->use_internal_logger);
    if (config->sampling_initial < 0) {
      node.Error("sampling_initial", "sampling_initial must not be negative");
    }
    if (config->sampling_thereafter < 0) {
      node.Error("sampling_thereafter", "sampling_thereafter must not be negative");
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Exporter>> Create(const CreateSettings& settings,
                                                   const ComponentConfig& config) const override {
    return std::make_unique<DebugExporter>(settings, ConfigAs<DebugExporterConfig>(config));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> NewDebugExporterFactory() {
  return std::make_unique<DebugExporterFactory>();
}

}  // namespace otlpd
