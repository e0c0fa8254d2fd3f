#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "core/component.h"
#include "core/metrics.h"

namespace otlpd {

// The Host every component of a running service sees: the self-metrics registry, the
// service's health, and the extensions listed in service::extensions.
class ServiceHost final : public Host {
 public:
  MetricsRegistry& metrics() override { return metrics_; }
  bool Healthy() const override { return running_.load(std::memory_order_relaxed); }
  absl::StatusOr<Extension*> GetExtension(const ComponentId& id) const override;
  absl::StatusOr<Exporter*> GetExporter(const ComponentId& id) const override;
  void ReportDegraded(const ComponentId& id, std::string reason) override;
  std::vector<std::pair<std::string, std::string>> Degraded() const override;

  // Only while the graph is built, before anything runs.
  void AddExtension(const ComponentId& id, std::shared_ptr<Extension> extension);
  // The graph owns the exporter and outlives every lookup.
  void AddExporter(const ComponentId& id, Exporter* exporter);
  void SetRunning(bool running) { running_.store(running, std::memory_order_relaxed); }

 private:
  MetricsRegistry metrics_;
  std::map<ComponentId, std::shared_ptr<Extension>> extensions_;
  std::map<ComponentId, Exporter*> exporters_;
  std::atomic<bool> running_{false};
  mutable absl::Mutex degraded_mu_;
  std::map<std::string, std::string> degraded_ ABSL_GUARDED_BY(degraded_mu_);
  std::set<std::string> gauges_ ABSL_GUARDED_BY(degraded_mu_);
};

}  // namespace otlpd
