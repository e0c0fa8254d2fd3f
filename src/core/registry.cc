#include "core/registry.h"

namespace otlpd {

namespace {
template <class Map, class F>
void Put(Map& map, std::unique_ptr<F> f) {
  std::string type(f->type());
  map[type] = std::move(f);
}
template <class Map>
auto Find(const Map& map, std::string_view type) -> decltype(map.begin()->second.get()) {
  auto it = map.find(type);
  return it == map.end() ? nullptr : it->second.get();
}
}  // namespace

void ComponentRegistry::Register(std::unique_ptr<ReceiverFactory> f) {
  Put(receivers_, std::move(f));
}
void ComponentRegistry::Register(std::unique_ptr<ProcessorFactory> f) {
  Put(processors_, std::move(f));
}
void ComponentRegistry::Register(std::unique_ptr<ExporterFactory> f) {
  Put(exporters_, std::move(f));
}
void ComponentRegistry::Register(std::unique_ptr<ExtensionFactory> f) {
  Put(extensions_, std::move(f));
}
void ComponentRegistry::Register(std::unique_ptr<ConnectorFactory> f) {
  Put(connectors_, std::move(f));
}

const ReceiverFactory* ComponentRegistry::receiver(std::string_view t) const {
  return Find(receivers_, t);
}
const ProcessorFactory* ComponentRegistry::processor(std::string_view t) const {
  return Find(processors_, t);
}
const ExporterFactory* ComponentRegistry::exporter(std::string_view t) const {
  return Find(exporters_, t);
}
const ExtensionFactory* ComponentRegistry::extension(std::string_view t) const {
  return Find(extensions_, t);
}
const ConnectorFactory* ComponentRegistry::connector(std::string_view t) const {
  return Find(connectors_, t);
}

}  // namespace otlpd
