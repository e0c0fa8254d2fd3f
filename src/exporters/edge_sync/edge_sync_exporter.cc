#include "exporters/edge_sync/edge_sync_exporter.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/metrics.h"
#include "exporters/edge_sync/endpoint_pool.h"
#include "exporters/edge_sync/partition.h"
#include "spdlog/spdlog.h"

namespace otlpd {

namespace {

constexpr int kSeverityWarn = 13;  // SEVERITY_NUMBER_WARN

bool PrioritySpan(const opentelemetry::proto::trace::v1::Span& span) {
  return span.status().code() == opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR;
}
bool PriorityLog(const opentelemetry::proto::logs::v1::LogRecord& log) {
  return log.severity_number() >= kSeverityWarn;
}

// Splits `data` into its priority items and the rest (either may come back null).
std::pair<TelemetryPtr, TelemetryPtr> SplitByPriority(const TelemetryPtr& data) {
  ItemClassifier priority{[](const auto& span) -> size_t { return PrioritySpan(span) ? 1 : 0; },
                          [](const auto& log) -> size_t { return PriorityLog(log) ? 1 : 0; }};
  std::vector<std::shared_ptr<Telemetry>> parts = PartitionItems(*data, 2, priority);
  if (parts[1] == nullptr) return {nullptr, data};
  if (parts[0] == nullptr) return {data, nullptr};
  return {parts[1], parts[0]};
}

}  // namespace

bool IsPriorityData(const Telemetry& data) {
  if (data.signal() == Signal::kTraces) {
    for (const auto& rs : data.traces().resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          if (PrioritySpan(span)) return true;
        }
      }
    }
  } else if (data.signal() == Signal::kLogs) {
    for (const auto& rl : data.logs().resource_logs()) {
      for (const auto& sl : rl.scope_logs()) {
        for (const auto& log : sl.log_records()) {
          if (PriorityLog(log)) return true;
        }
      }
    }
  }
  return false;
}

// What the self-metrics read; the registry keeps it past the exporter's life.
struct EdgeSyncExporter::Shared {
  absl::Mutex mu;
  const SendingQueue* queue ABSL_GUARDED_BY(mu) = nullptr;
  std::shared_ptr<const storage::DurableQueueCounters> counters ABSL_GUARDED_BY(mu);

  QueueSizes sizes() {
    absl::MutexLock lock(&mu);
    return queue != nullptr ? queue->sizes() : QueueSizes{};
  }
};

EdgeSyncExporter::EdgeSyncExporter(const CreateSettings& settings, const EdgeSyncConfig& config)
    : config_(config), shared_(std::make_shared<Shared>()) {
  MetricsRegistry& metrics = settings.host->metrics();
  const std::string id = settings.id.ToString();
  const Labels labels = {{"exporter", id}};
  std::shared_ptr<Shared> shared = shared_;
  metrics.AddCallbackGauge(
      "otlpd_edge_sync_queue_bytes", labels,
      [shared] { return static_cast<double>(shared->sizes().bytes); }, "Bytes queued [bytes]");
  metrics.AddCallbackGauge(
      "otlpd_edge_sync_queue_items", labels,
      [shared] { return static_cast<double>(shared->sizes().items); }, "Items queued");
  metrics.AddCallbackGauge(
      "otlpd_edge_sync_queue_requests", labels,
      [shared] { return static_cast<double>(shared->sizes().requests); }, "Requests queued");
  metrics.AddCallbackGauge(
      "otlpd_edge_sync_oldest_item_age_seconds", labels,
      [shared] {
        absl::MutexLock lock(&shared->mu);
        return shared->queue != nullptr ? absl::ToDoubleSeconds(shared->queue->oldest_age()) : 0.0;
      },
      "Age of the oldest item not yet sent [s]");
  auto counter_gauge = [&](const std::string& reason,
                           std::atomic<uint64_t> storage::DurableQueueCounters::*field) {
    Labels l = labels;
    l.emplace_back("reason", reason);
    metrics.AddCallbackGauge(
        "otlpd_edge_sync_dropped_items", l,
        [shared, field] {
          absl::MutexLock lock(&shared->mu);
          return shared->counters != nullptr
                     ? static_cast<double>((*shared->counters.*field).load())
                     : 0.0;
        },
        "Items dropped, by reason (queue_full_oldest, queue_full_newest: the when_full policy; "
        "damaged: unreadable records on disk, counted per record)");
  };
  counter_gauge("queue_full_oldest", &storage::DurableQueueCounters::dropped_oldest_items);
  counter_gauge("queue_full_newest", &storage::DurableQueueCounters::dropped_newest_items);
  counter_gauge("damaged", &storage::DurableQueueCounters::damaged_records);
  Counter* dead_items =
      metrics.GetCounter("otlpd_edge_sync_dead_letter_items", labels,
                         "Items written to the dead-letter directory (rejected for good)");
  Counter* dead_failed = metrics.GetCounter(
      "otlpd_edge_sync_dead_letter_write_failures", labels,
      "Rejected requests that could not be written to the dead-letter directory (dropped)");

  ExporterHelperSettings helper;
  helper.timeout = config.timeout;
  helper.retry = config.retry;
  helper.queue.enabled = true;
  helper.queue.num_consumers = config.concurrency;
  helper.queue.sizer = Sizer::kBytes;
  helper.queue.queue_size = static_cast<int64_t>(config.max_size);
  // Re-pack: what is already queued goes out together, up to max_batch_bytes, without
  // waiting for more.
  QueueBatchSettings batch;
  batch.sizer = Sizer::kBytes;
  batch.min_size = static_cast<int64_t>(config.max_batch_bytes);
  batch.max_size = static_cast<int64_t>(config.max_batch_bytes);
  batch.flush_timeout = absl::ZeroDuration();
  helper.queue.batch = batch;

  ExporterHelperHooks hooks;
  const EdgeSyncConfig cfg = config;
  hooks.make_queue = [cfg, shared]() -> absl::StatusOr<std::unique_ptr<SendingQueue>> {
    storage::DurableQueueOptions o;
    o.directory = cfg.directory + "/queue";
    o.sizer = Sizer::kBytes;
    o.capacity = static_cast<int64_t>(cfg.max_size);
    o.durability = cfg.durability;
    o.max_disk_bytes = cfg.max_size + o.segment_bytes;
    o.order = cfg.drain_order;
    o.when_full = cfg.when_full;
    o.live_window = cfg.live_window;
    if (cfg.drain_order == storage::ReadOrder::kPriority) o.priority = IsPriorityData;
    absl::StatusOr<std::unique_ptr<storage::DurableQueue>> q = storage::DurableQueue::Open(o);
    if (!q.ok()) return q.status();
    absl::MutexLock lock(&shared->mu);
    shared->queue = q->get();
    shared->counters = (*q)->counters();
    return std::unique_ptr<SendingQueue>(std::move(*q));
  };
  auto dead_letter = std::make_shared<DeadLetterDir>(config.dead_letter_directory);
  hooks.on_failure = [dead_letter, dead_items, dead_failed, id](
                         const Telemetry& data, const absl::Status& why, size_t rejected,
                         const std::string& message) {
    absl::Status s = dead_letter->Write(data, why, rejected, message);
    if (s.ok()) {
      dead_items->Add(rejected);
    } else {
      dead_failed->Add(1);
      spdlog::error("exporter {}: cannot write a rejected request to {}: {}", id,
                    dead_letter->directory(), s.ToString());
    }
  };
  helper_ = std::make_unique<ExporterHelper>(settings, std::move(helper),
                                             std::make_unique<EndpointPool>(id, config, &metrics),
                                             std::move(hooks));
}

EdgeSyncExporter::~EdgeSyncExporter() {
  helper_.reset();
  absl::MutexLock lock(&shared_->mu);
  shared_->queue = nullptr;
}

// A damaged queue at start makes the helper report the exporter degraded.
absl::Status EdgeSyncExporter::Start() { return helper_->Start(); }

void EdgeSyncExporter::Shutdown(absl::Time deadline) { helper_->Shutdown(deadline); }

void EdgeSyncExporter::Consume(TelemetryPtr data, Completion done) {
  if (config_.drain_order != storage::ReadOrder::kPriority || data->signal() == Signal::kMetrics) {
    helper_->Consume(std::move(data), std::move(done));
    return;
  }
  auto [prio, rest] = SplitByPriority(data);
  if (prio == nullptr || rest == nullptr) {
    helper_->Consume(std::move(data), std::move(done));
    return;
  }
  // Acknowledged once both halves are queued; the first error is the answer.
  struct Join {
    absl::Mutex mu;
    int left = 2;
    absl::Status status;
    Completion done;
  };
  auto join = std::make_shared<Join>();
  join->done = std::move(done);
  auto finish = [join](absl::Status s) {
    Completion done;
    absl::Status result;
    {
      absl::MutexLock lock(&join->mu);
      if (!s.ok() && join->status.ok()) join->status = s;
      if (--join->left > 0) return;
      done = std::move(join->done);
      result = join->status;
    }
    std::move(done)(std::move(result));
  };
  helper_->Consume(std::move(prio), finish);
  helper_->Consume(std::move(rest), finish);
}

}  // namespace otlpd
