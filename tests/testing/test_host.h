#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/component.h"
#include "core/metrics.h"

namespace otlpd::testing {

// A Host for components built directly by unit tests: its own metrics registry, a health
// flag the test sets, and the extensions the test adds.
class TestHost : public Host {
 public:
  MetricsRegistry& metrics() override { return registry; }
  bool Healthy() const override { return healthy.load(); }
  absl::StatusOr<Extension*> GetExtension(const ComponentId& id) const override {
    auto it = extensions.find(id);
    if (it == extensions.end()) {
      return absl::NotFoundError(absl::StrCat("extension \"", id.ToString(), "\" is not running"));
    }
    return it->second.get();
  }

  absl::StatusOr<Exporter*> GetExporter(const ComponentId& id) const override {
    auto it = exporters.find(id);
    if (it == exporters.end()) {
      return absl::NotFoundError(absl::StrCat("exporter \"", id.ToString(), "\" is not used"));
    }
    return it->second;
  }

  // Value of the counter `name`{exporter=<exporter>}.
  uint64_t Counter(const std::string& name, const std::string& exporter) {
    return registry.GetCounter(name, {{"exporter", exporter}})->value();
  }

  MetricsRegistry registry;
  std::atomic<bool> healthy{true};
  std::map<ComponentId, std::shared_ptr<Extension>> extensions;
  std::map<ComponentId, Exporter*> exporters;  // not owned
};

}  // namespace otlpd::testing
