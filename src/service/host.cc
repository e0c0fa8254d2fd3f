#include "service/host.h"

#include "absl/strings/str_cat.h"

namespace otlpd {

absl::StatusOr<Extension*> ServiceHost::GetExtension(const ComponentId& id) const {
  auto it = extensions_.find(id);
  if (it == extensions_.end()) {
    return absl::NotFoundError(absl::StrCat("extension \"", id.ToString(),
                                            "\" is not running (not in service::extensions)"));
  }
  return it->second.get();
}

absl::StatusOr<Exporter*> ServiceHost::GetExporter(const ComponentId& id) const {
  auto it = exporters_.find(id);
  if (it == exporters_.end()) {
    return absl::NotFoundError(
        absl::StrCat("exporter \"", id.ToString(), "\" is not used in any pipeline"));
  }
  return it->second;
}

void ServiceHost::AddExporter(const ComponentId& id, Exporter* exporter) {
  exporters_[id] = exporter;
}

void ServiceHost::AddExtension(const ComponentId& id, std::shared_ptr<Extension> extension) {
  extensions_[id] = std::move(extension);
}

}  // namespace otlpd
