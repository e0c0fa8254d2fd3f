#pragma once

#include <memory>

#include "core/component.h"
#include "core/exporter_helper.h"
#include "exporters/edge_sync/config.h"
#include "exporters/edge_sync/dead_letter.h"
#include "storage/durable_queue.h"

namespace otlpd {

// Whether an item belongs to the priority class of drain_order: priority (spans with
// status ERROR, log records of severity WARN and above).
bool IsPriorityData(const Telemetry& data);

// edge_sync: store-and-forward. Consume completes once the request is synced into the
// exporter's queue directory (storage::DurableQueue); the ExporterHelper's workers
// (`concurrency`) read it back in drain_order, pack up to max_batch_bytes, and send it
// through an EndpointPool with retries that never give up unless max_elapsed_time says so;
// what an upstream rejects for good goes to the dead-letter directory. With drain_order:
// priority, a request is split so that its priority items are queued (and sent) apart.
class EdgeSyncExporter final : public Exporter {
 public:
  EdgeSyncExporter(const CreateSettings& settings, const EdgeSyncConfig& config);
  ~EdgeSyncExporter() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

 private:
  struct Shared;
  const EdgeSyncConfig config_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<ExporterHelper> helper_;
};

}  // namespace otlpd
