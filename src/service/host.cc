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

void ServiceHost::ReportDegraded(const ComponentId& id, std::string reason) {
  const std::string name = id.ToString();
  bool first = false;
  {
    absl::MutexLock lock(&degraded_mu_);
    if (reason.empty()) {
      degraded_.erase(name);
      return;
    }
    first = gauges_.insert(name).second;
    degraded_[name] = std::move(reason);
  }
  // Outside degraded_mu_: rendering the metrics takes the registry's lock, then this one.
  if (first) {
    metrics_.AddCallbackGauge(
        "otlpd_component_degraded", {{"component", name}},
        [this, name] {
          absl::MutexLock lock(&degraded_mu_);
          return degraded_.count(name) ? 1.0 : 0.0;
        },
        "1 while the component reports it is degraded (see the health_check body)");
  }
}

std::vector<std::pair<std::string, std::string>> ServiceHost::Degraded() const {
  absl::MutexLock lock(&degraded_mu_);
  return {degraded_.begin(), degraded_.end()};
}

}  // namespace otlpd
