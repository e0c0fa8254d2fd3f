#pragma once

#include <memory>

#include "absl/synchronization/mutex.h"
#include "core/component.h"
#include "core/exporter_metrics.h"
#include "exporters/tiered_storage/config.h"
#include "storage/store_reader.h"
#include "storage/tiered_store.h"

namespace otlpd {

// Writes every request into the tiered store and answers it once the store has it durably
// (per hot.durability) and queryable. The store opens at Start (replaying its log) and
// stays readable until the exporter is destroyed, so the query extension can serve while
// the service shuts down. A full store refuses retryably (RESOURCE_EXHAUSTED).
class TieredStorageExporter : public Exporter, public storage::StoreReaderProvider {
 public:
  TieredStorageExporter(const CreateSettings& settings, const TieredStorageExporterConfig& config);
  ~TieredStorageExporter() override;

  absl::Status Start() override;
  // Refuses new requests and waits (until `deadline`) for the appends in flight.
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

  storage::StoreReader* store_reader() override;
  storage::TieredStore* store();

 private:
  // What the self-metrics callbacks read; outlives the exporter (the registry keeps them).
  struct StoreView {
    absl::Mutex mu;
    storage::TieredStore* store ABSL_GUARDED_BY(mu) = nullptr;
  };
  void RegisterMetrics(MetricsRegistry* metrics);

  const std::string id_;
  const TieredStorageExporterConfig config_;
  ExporterMetrics metrics_;
  std::shared_ptr<StoreView> view_ = std::make_shared<StoreView>();

  absl::Mutex mu_;
  std::unique_ptr<storage::TieredStore> store_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace otlpd
