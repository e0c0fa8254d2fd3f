#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/component.h"
#include "core/exporter_metrics.h"
#include "core/log_throttle.h"
#include "core/metrics.h"
#include "core/sending_queue.h"
#include "exporters/loadbalancing/config.h"
#include "exporters/loadbalancing/ring.h"

namespace otlpd {

// Builds the exporter that makes one send attempt to the backend at `endpoint` per Consume
// (the otlp exporter, queue and retries off: this exporter queues and retries per backend).
// `id` names it in logs and self-metrics.
using BackendExporterFactory = std::function<absl::StatusOr<std::unique_ptr<Exporter>>(
    const ComponentId& id, const std::string& endpoint)>;

// otelcol's loadbalancing exporter, without its loss on membership changes:
//  - Consume splits each request by the routing key over a consistent-hash ring of the
//    backends (router.h, ring.h) and offers each part to its backend's own sending queue
//    (memory, or durable through sending_queue.storage); it completes OK once every part is
//    queued (durably: synced), and with the first part's error (retryable) otherwise.
//  - Each backend has num_consumers workers that send what its queue holds, retrying as
//    retry_on_failure says, and count the outcomes for passive ejection: after
//    consecutive_errors failures in a row a backend leaves the ring for base_ejection_time
//    × (its ejections so far), capped at max_ejection_time, unless max_ejection_percent of
//    the backends are out already.
//  - A backend out of the ring (ejected, or no longer resolved) keeps its queue: its workers
//    re-route what is in it through the current ring to the others (each request is
//    committed in the old queue only once the new queues took it), so nothing queued is
//    lost. A backend that comes back (resolved again, ejection over) re-joins the ring with
//    the same queue. Backends are kept for the exporter's life.
//  - The resolver (static list, or DNS every interval keeping the last good answer on
//    failure) sets the membership; SetBackends does the same for tests.
class LoadBalancingExporter final : public Exporter {
 public:
  LoadBalancingExporter(const CreateSettings& settings, const LoadBalancingConfig& config,
                        BackendExporterFactory backend_factory);
  ~LoadBalancingExporter() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

  // Makes `endpoints` ("host:port") the membership, creating backends not seen before.
  // An endpoint whose backend cannot be created is left out (and logged).
  void SetBackends(std::vector<std::string> endpoints);
  // Endpoints of the ring now (resolved and not ejected), sorted.
  std::vector<std::string> RingMembers() const;

 private:
  struct Backend;
  struct RingView {
    HashRing ring;
    std::vector<Backend*> backends;  // by ring member index
  };

  absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const std::string& endpoint);
  std::shared_ptr<const RingView> CurrentRing() const;
  void RebuildRingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool InRing(const Backend& b) const;
  // Splits `data` over `view` and offers the parts; `done` once all are settled.
  void Route(const std::shared_ptr<const RingView>& view, TelemetryPtr data, Completion done);
  void WorkerLoop(Backend* b);
  void Deliver(Backend* b, QueuedRequest request);
  absl::Status SendOnce(Backend* b, const TelemetryPtr& data);
  absl::Status RerouteOnce(const TelemetryPtr& data);
  void RecordOutcome(Backend* b, const absl::Status& status);
  // Sleeps until `until` or abort; false when aborted.
  bool SleepUntil(absl::Time until);
  void MaintenanceLoop();
  void Resolve();
  bool Aborted() const { return aborted_.load(std::memory_order_acquire); }

  const ComponentId id_;
  Host* const host_;
  std::unique_ptr<MetricsRegistry> own_metrics_;  // when there is no host (tests)
  MetricsRegistry* metrics_;
  const LoadBalancingConfig config_;
  const BackendExporterFactory backend_factory_;
  ExporterMetrics outcomes_;

  Gauge* num_backends_ = nullptr;
  Gauge* num_ejected_ = nullptr;
  Counter* ring_changes_ = nullptr;
  Counter* resolutions_ok_ = nullptr;
  Counter* resolutions_failed_ = nullptr;
  std::array<Counter*, 3> rerouted_{};
  std::array<Counter*, 3> refused_{};
  LogThrottle refusal_log_;
  LogThrottle drop_log_;
  LogThrottle key_log_;

  absl::Mutex membership_mu_;  // one SetBackends at a time (creating backends is slow)
  mutable absl::Mutex mu_;
  absl::CondVar cv_;  // abort, shutdown, ejection expiries
  std::map<std::string, std::unique_ptr<Backend>> backends_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const RingView> ring_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool queues_closed_ ABSL_GUARDED_BY(mu_) = false;
  int active_workers_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<bool> aborted_{false};
  std::thread maintenance_;
};

}  // namespace otlpd
