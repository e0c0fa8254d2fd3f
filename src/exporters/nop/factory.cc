#include "exporters/nop/factory.h"

#include "exporters/nop/config.h"
#include "exporters/nop/nop_exporter.h"

namespace otlpd {

namespace {

class NopExporterFactory : public ExporterFactory {
 public:
  std::string_view type() const override { return "nop"; }
  SignalSet signals() const override { return SignalSet::All(); }
  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& /*node*/) const override {
    return std::make_unique<NopExporterConfig>();
  }
  absl::StatusOr<std::unique_ptr<Exporter>> Create(
      const CreateSettings& settings, const ComponentConfig& /*config*/) const override {
    return std::make_unique<NopExporter>(settings);
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> NewNopExporterFactory() {
  return std::make_unique<NopExporterFactory>();
}

}  // namespace otlpd
