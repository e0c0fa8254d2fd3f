#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/factory.h"

namespace otlpd {

// Factories by config type name, one table per component kind.
class ComponentRegistry {
 public:
  void Register(std::unique_ptr<ReceiverFactory> f);
  void Register(std::unique_ptr<ProcessorFactory> f);
  void Register(std::unique_ptr<ExporterFactory> f);
  void Register(std::unique_ptr<ExtensionFactory> f);
  void Register(std::unique_ptr<ConnectorFactory> f);

  const ReceiverFactory* receiver(std::string_view type) const;
  const ProcessorFactory* processor(std::string_view type) const;
  const ExporterFactory* exporter(std::string_view type) const;
  const ExtensionFactory* extension(std::string_view type) const;
  const ConnectorFactory* connector(std::string_view type) const;

 private:
  std::map<std::string, std::unique_ptr<ReceiverFactory>, std::less<>> receivers_;
  std::map<std::string, std::unique_ptr<ProcessorFactory>, std::less<>> processors_;
  std::map<std::string, std::unique_ptr<ExporterFactory>, std::less<>> exporters_;
  std::map<std::string, std::unique_ptr<ExtensionFactory>, std::less<>> extensions_;
  std::map<std::string, std::unique_ptr<ConnectorFactory>, std::less<>> connectors_;
};

// Every component built into otlpd (src/app/components.cc).
void RegisterBuiltinComponents(ComponentRegistry* registry);

}  // namespace otlpd
