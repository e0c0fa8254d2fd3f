#include "core/queued_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/exporter_metrics.h"
#include "core/status.h"

namespace otlpd {

void ParseQueueSettings(ConfigNode node, QueueSettings* out) {
  node.Get("enabled", &out->enabled);
  bool has_consumers = node.Get("num_consumers", &out->num_consumers);
  bool has_size = node.Get("queue_size", &out->queue_size);
  if (!out->enabled) return;  // otelcol validates sizes only for an enabled queue
  if (has_consumers && out->num_consumers <= 0) {
    node.Error("num_consumers", "num_consumers must be positive");
  }
  if (has_size && out->queue_size <= 0) node.Error("queue_size", "queue_size must be positive");
}

void ParseRetrySettings(ConfigNode node, RetrySettings* out) {
  node.Get("enabled", &out->enabled);
  bool has_initial = node.GetDuration("initial_interval", &out->initial_interval);
  bool has_max = node.GetDuration("max_interval", &out->max_interval);
  bool has_elapsed = node.GetDuration("max_elapsed_time", &out->max_elapsed_time);
  bool has_multiplier = node.Get("multiplier", &out->multiplier);
  bool has_factor = node.Get("randomization_factor", &out->randomization_factor);
  if (!out->enabled) return;
  if (has_initial && out->initial_interval <= absl::ZeroDuration()) {
    node.Error("initial_interval", "initial_interval must be positive");
  }
  if (has_max && out->max_interval <= absl::ZeroDuration()) {
    node.Error("max_interval", "max_interval must be positive");
  }
  if ((has_elapsed || has_initial) && out->max_elapsed_time != absl::ZeroDuration() &&
      out->max_elapsed_time < out->initial_interval) {
    node.Error(has_elapsed ? "max_elapsed_time" : "initial_interval",
               "max_elapsed_time must be 0 (retry forever) or not less than initial_interval");
  }
  if (has_multiplier && !(out->multiplier >= 1.0)) {
    node.Error("multiplier", "multiplier must be at least 1");
  }
  if (has_factor && !(out->randomization_factor >= 0.0 && out->randomization_factor <= 1.0)) {
    node.Error("randomization_factor", "randomization_factor must be between 0 and 1");
  }
}

class QueuedRetrySender::Impl {
 public:
  Impl(std::string exporter_id, QueueSettings queue, RetrySettings retry, SendFn send,
       MetricsRegistry* metrics)
      : id_(std::move(exporter_id)),
        queue_settings_(queue),
        retry_(retry),
        send_(std::move(send)),
        capacity_(static_cast<size_t>(
            std::max(1, queue.enabled ? queue.queue_size : queue.num_consumers))),
        outcomes_(id_, metrics),
        depth_(std::make_shared<std::atomic<int64_t>>(0)) {
    const Labels labels = {{"exporter", id_}};
    for (Signal s : kAllSignals) {
      const std::string item(SignalItemName(s));
      const int i = static_cast<int>(s);
      enqueue_failed_[i] = metrics->GetCounter(
          "otelcol_exporter_enqueue_failed_" + item, labels,
          absl::StrCat("Number of ", item, " failed to be added to the sending queue."));
    }
    metrics
        ->GetGauge("otelcol_exporter_queue_capacity", labels,
                   "Fixed capacity of the retry queue (in batches)")
        ->Set(static_cast<int64_t>(capacity_));
    // The registry cannot drop a callback, so it holds the counter, not this object.
    std::shared_ptr<std::atomic<int64_t>> depth = depth_;
    metrics->AddCallbackGauge(
        "otelcol_exporter_queue_size", labels,
        [depth] { return static_cast<double>(depth->load(std::memory_order_relaxed)); },
        "Current size of the retry queue (in batches)");
  }

  ~Impl() {
    bool running;
    {
      absl::MutexLock lock(&mu_);
      running = started_ && !stopping_;
    }
    if (running) Shutdown(absl::Now());
    JoinWorkers();
  }

  void Start() {
    absl::MutexLock lock(&mu_);
    if (started_) return;
    started_ = true;
    const int workers = std::max(1, queue_settings_.num_consumers);
    workers_.reserve(workers);
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  }

  void Submit(TelemetryPtr data, Completion done) {
    absl::Status refused;
    {
      absl::MutexLock lock(&mu_);
      if (!started_ || stopping_) {
        refused =
            RetryableError(absl::StatusCode::kUnavailable,
                           absl::StrCat("exporter ", id_, " is not running"), absl::Seconds(1));
      } else if (queue_.size() + (queue_settings_.enabled ? 0 : in_flight_) >= capacity_) {
        refused = RetryableError(absl::StatusCode::kUnavailable, "sending queue is full",
                                 absl::Seconds(1));
      } else if (queue_settings_.enabled) {
        queue_.push_back(Item{std::move(data), nullptr});
        depth_->store(static_cast<int64_t>(queue_.size()), std::memory_order_relaxed);
      } else {
        // The caller learns the outcome of the send itself.
        queue_.push_back(Item{std::move(data), std::move(done)});
        depth_->store(static_cast<int64_t>(queue_.size()), std::memory_order_relaxed);
        return;
      }
    }
    if (!refused.ok()) {
      enqueue_failed_[static_cast<int>(data->signal())]->Add(data->ItemCount());
      spdlog::warn("exporter {}: dropping {} {}: {}", id_, data->ItemCount(),
                   SignalItemName(data->signal()), refused.ToString());
    }
    std::move(done)(refused);
  }

  void Shutdown(absl::Time deadline) {
    std::deque<Item> leftovers;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stopping_ = true;
      if (started_) {
        // Workers exit once the queue is empty; give them until the deadline.
        mu_.AwaitWithDeadline(absl::Condition(this, &Impl::Drained), deadline);
      }
      aborted_ = true;  // wakes retry sleeps, stops workers from taking more
      leftovers.swap(queue_);
      depth_->store(0, std::memory_order_relaxed);
    }
    for (Item& item : leftovers) {
      absl::Status status = absl::UnavailableError(
          absl::StrCat("exporter ", id_, " shut down before the data could be sent"));
      Fail(*item.data, status);
      if (item.done) std::move(item.done)(status);
    }
    JoinWorkers();
  }

  size_t queue_size() const {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

 private:
  struct Item {
    TelemetryPtr data;
    Completion done;  // set only when the queue is disabled
  };

  bool Drained() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.empty() && in_flight_ == 0;
  }
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stopping_;
  }

  void JoinWorkers() {
    std::vector<std::thread> workers;
    {
      absl::MutexLock lock(&mu_);
      workers.swap(workers_);
    }
    for (std::thread& t : workers) t.join();
  }

  void WorkerLoop() {
    absl::BitGen gen;
    while (true) {
      Item item;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &Impl::HasWorkOrStopping));
        if (queue_.empty() || aborted_) return;
        item = std::move(queue_.front());
        queue_.pop_front();
        depth_->store(static_cast<int64_t>(queue_.size()), std::memory_order_relaxed);
        ++in_flight_;
      }
      absl::Status status = SendWithRetry(*item.data, gen);
      if (status.ok()) {
        outcomes_.Record(item.data->signal(), item.data->ItemCount(), status);
      } else {
        Fail(*item.data, status);
      }
      if (item.done) std::move(item.done)(status);
      item.data.reset();
      absl::MutexLock lock(&mu_);
      --in_flight_;
    }
  }

  void Fail(const Telemetry& data, const absl::Status& status) {
    outcomes_.Record(data.signal(), data.ItemCount(), status);
    spdlog::error("exporter {}: dropping {} {}: {}", id_, data.ItemCount(),
                  SignalItemName(data.signal()), status.ToString());
  }

  absl::Duration Randomize(absl::Duration interval, absl::BitGen& gen) const {
    const double f = retry_.randomization_factor;
    if (f <= 0) return interval;
    return interval * absl::Uniform(gen, 1.0 - f, 1.0 + f);
  }

  absl::Status SendWithRetry(const Telemetry& data, absl::BitGen& gen) {
    const absl::Time start = absl::Now();
    absl::Duration interval = retry_.initial_interval;
    while (true) {
      absl::Status status = send_(data);
      if (status.ok() || !retry_.enabled || !IsRetryable(status)) return status;

      absl::Duration delay = Randomize(interval, gen);
      interval = std::min(interval * retry_.multiplier, retry_.max_interval);
      if (std::optional<absl::Duration> hint = RetryAfter(status);
          hint && *hint > absl::ZeroDuration()) {
        delay = *hint;
      }
      if (retry_.max_elapsed_time > absl::ZeroDuration()) {
        const absl::Duration remaining = start + retry_.max_elapsed_time - absl::Now();
        if (remaining <= absl::ZeroDuration()) {
          return absl::Status(status.code(),
                              absl::StrCat("no more retries left: ", status.message()));
        }
        delay = std::min(delay, remaining);
      }
      spdlog::debug("exporter {}: send failed, retrying in {}: {}", id_,
                    absl::FormatDuration(delay), status.ToString());
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithDeadline(absl::Condition(&aborted_), absl::Now() + delay)) {
        return absl::Status(status.code(),
                            absl::StrCat("shutdown before a successful retry: ", status.message()));
      }
    }
  }

  const std::string id_;
  const QueueSettings queue_settings_;
  const RetrySettings retry_;
  const SendFn send_;
  const size_t capacity_;
  ExporterMetrics outcomes_;  // sent / send_failed
  std::array<Counter*, 3> enqueue_failed_{};
  std::shared_ptr<std::atomic<int64_t>> depth_;

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool aborted_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
};

QueuedRetrySender::QueuedRetrySender(std::string exporter_id, QueueSettings queue,
                                     RetrySettings retry, SendFn send, MetricsRegistry* metrics)
    : impl_(
          std::make_unique<Impl>(std::move(exporter_id), queue, retry, std::move(send), metrics)) {}

QueuedRetrySender::~QueuedRetrySender() = default;

void QueuedRetrySender::Start() { impl_->Start(); }

void QueuedRetrySender::Submit(TelemetryPtr data, Completion done) {
  impl_->Submit(std::move(data), std::move(done));
}

void QueuedRetrySender::Shutdown(absl::Time deadline) { impl_->Shutdown(deadline); }

size_t QueuedRetrySender::queue_size() const { return impl_->queue_size(); }

}  // namespace otlpd
