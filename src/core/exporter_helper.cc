#include "core/exporter_helper.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "core/batch_builder.h"
#include "core/memory_queue.h"
#include "core/status.h"

namespace otlpd {

namespace {

bool ParseSizer(ConfigNode& node, std::string_view key, Sizer* out) {
  std::string name;
  if (!node.GetEnum(key, &name, {"requests", "items", "bytes"})) return false;
  *out = name == "requests" ? Sizer::kRequests : name == "items" ? Sizer::kItems : Sizer::kBytes;
  return true;
}

const std::vector<double>& ItemBuckets() {
  static const std::vector<double> kBuckets = {10,   25,    50,    75,    100,   250,   500,  750,
                                               1000, 2000,  3000,  4000,  5000,  6000,  7000, 8000,
                                               9000, 10000, 20000, 30000, 50000, 100000};
  return kBuckets;
}

const std::vector<double>& ByteBuckets() {
  static const std::vector<double> kBuckets = {1 << 10,   4 << 10,  16 << 10, 64 << 10,
                                               256 << 10, 1 << 20,  2 << 20,  4 << 20,
                                               8 << 20,   16 << 20, 32 << 20, 64 << 20};
  return kBuckets;
}

}  // namespace

void ParseQueueSettings(ConfigNode node, QueueSettings* out) {
  node.Get("enabled", &out->enabled);
  const bool has_consumers = node.Get("num_consumers", &out->num_consumers);
  const bool has_size = node.Get("queue_size", &out->queue_size);
  const bool has_sizer = ParseSizer(node, "sizer", &out->sizer);
  node.Get("block_on_overflow", &out->block_on_overflow);
  node.Get("wait_for_result", &out->wait_for_result);
  ComponentId storage;
  if (node.GetExtensionRef("storage", &storage)) out->storage = storage;
  bool has_batch = false;
  ConfigNode batch = node.Child("batch", &has_batch);
  if (has_batch) {
    QueueBatchSettings& b = out->batch.emplace();
    const bool has_timeout = batch.GetDuration("flush_timeout", &b.flush_timeout);
    batch.Get("min_size", &b.min_size);
    batch.Get("max_size", &b.max_size);
    // As otelcol: the batch sizer follows an explicitly set queue sizer.
    if (!ParseSizer(batch, "sizer", &b.sizer) && has_sizer) b.sizer = out->sizer;
    if (b.sizer == Sizer::kRequests) {
      batch.Error(batch.Has("sizer") ? "sizer" : "",
                  "`batch` supports only `items` or `bytes` sizer, found \"requests\"");
    }
    if (has_timeout && b.flush_timeout <= absl::ZeroDuration()) {
      batch.Error("flush_timeout", "`flush_timeout` must be positive");
    }
    if (b.min_size < 0) batch.Error("min_size", "`min_size` must not be negative");
    if (b.max_size < 0) {
      batch.Error("max_size", "`max_size` must not be negative");
    } else if (b.max_size > 0 && b.max_size < b.min_size) {
      batch.Error("max_size",
                  absl::StrCat("`max_size` (", b.max_size,
                               ") must be greater or equal to `min_size` (", b.min_size, ")"));
    }
  }
  if (!out->enabled) return;  // otelcol validates sizes only for an enabled queue
  if (has_consumers && out->num_consumers <= 0) {
    node.Error("num_consumers", "`num_consumers` must be positive");
  }
  if (has_size && out->queue_size <= 0) node.Error("queue_size", "`queue_size` must be positive");
  if (out->storage && out->wait_for_result) {
    node.Error("wait_for_result",
               "`wait_for_result` is not supported with a persistent queue configured with "
               "`storage`");
  }
}

void ParseRetrySettings(ConfigNode node, RetrySettings* out) {
  node.Get("enabled", &out->enabled);
  const bool has_initial = node.GetDuration("initial_interval", &out->initial_interval);
  const bool has_max = node.GetDuration("max_interval", &out->max_interval);
  const bool has_elapsed = node.GetDuration("max_elapsed_time", &out->max_elapsed_time);
  out->max_elapsed_time_set = has_elapsed;
  const bool has_multiplier = node.Get("multiplier", &out->multiplier);
  const bool has_factor = node.Get("randomization_factor", &out->randomization_factor);
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

void ParseExporterHelperSettings(ConfigNode& node, ExporterHelperSettings* out) {
  if (node.GetDuration("timeout", &out->timeout) && out->timeout < absl::ZeroDuration()) {
    node.Error("timeout", "timeout must not be negative");
  }
  ParseRetrySettings(node.Child("retry_on_failure"), &out->retry);
  ParseQueueSettings(node.Child("sending_queue"), &out->queue);
}

ExporterHelper::ExporterHelper(const CreateSettings& settings, ExporterHelperSettings helper,
                               std::unique_ptr<RequestSender> sender, ExporterHelperHooks hooks)
    : id_(settings.id),
      host_(settings.host),
      settings_(std::move(helper)),
      sender_(std::move(sender)),
      hooks_(std::move(hooks)),
      outcomes_(settings) {
  MetricsRegistry* metrics = host_ != nullptr ? &host_->metrics() : nullptr;
  if (metrics == nullptr) {
    own_metrics_ = std::make_unique<MetricsRegistry>();
    metrics = own_metrics_.get();
  }
  const Labels labels = {{"exporter", id_.ToString()}};
  for (Signal s : kAllSignals) {
    const std::string item(SignalItemName(s));
    enqueue_failed_[static_cast<int>(s)] = metrics->GetCounter(
        "otelcol_exporter_enqueue_failed_" + item, labels,
        absl::StrCat("Number of ", item, " failed to be added to the sending queue."));
  }
  batch_items_ = metrics->GetHistogram("otelcol_exporter_queue_batch_send_size", labels,
                                       ItemBuckets(), "Number of items in the batches sent");
  batch_bytes_ = metrics->GetHistogram("otelcol_exporter_queue_batch_send_size_bytes", labels,
                                       ByteBuckets(), "Encoded size of the batches sent [bytes]");
  std::shared_ptr<QueueView> view = queue_view_;
  metrics->AddCallbackGauge(
      "otelcol_exporter_queue_size", labels,
      [view] {
        absl::MutexLock lock(&view->mu);
        return view->queue != nullptr
                   ? static_cast<double>(view->queue->sizes().In(view->queue->sizer()))
                   : 0.0;
      },
      "Current size of the retry queue (in its sizer's units)");
  metrics->AddCallbackGauge(
      "otelcol_exporter_queue_capacity", labels,
      [view] {
        absl::MutexLock lock(&view->mu);
        return view->queue != nullptr ? static_cast<double>(view->queue->capacity()) : 0.0;
      },
      "Fixed capacity of the retry queue (in its sizer's units)");
}

ExporterHelper::~ExporterHelper() {
  Shutdown(absl::Now());
  absl::MutexLock lock(&queue_view_->mu);
  queue_view_->queue = nullptr;
}

absl::Status ExporterHelper::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::OkStatus();
  }
  if (absl::Status s = sender_->Start(host_); !s.ok()) return s;
  const QueueSettings& q = settings_.queue;
  if (hooks_.make_queue) {
    absl::StatusOr<std::unique_ptr<SendingQueue>> queue = hooks_.make_queue();
    if (!queue.ok()) return queue.status();
    queue_ = std::move(*queue);
  } else if (q.enabled && q.storage) {
    if (host_ == nullptr) return absl::FailedPreconditionError("a storage queue needs a host");
    absl::StatusOr<SendingQueueProvider*> provider =
        GetExtensionAs<SendingQueueProvider>(*host_, *q.storage, "a storage extension");
    if (!provider.ok()) return provider.status();
    QueueSettings with_timeout = q;
    with_timeout.block_timeout = settings_.timeout;
    absl::StatusOr<std::unique_ptr<SendingQueue>> queue =
        (*provider)->CreateQueue(id_, with_timeout);
    if (!queue.ok()) return queue.status();
    queue_ = std::move(*queue);
  } else if (q.enabled) {
    queue_ = std::make_unique<MemoryQueue>(q.sizer, q.queue_size, q.wait_for_result,
                                           q.block_on_overflow, settings_.timeout);
  } else {
    // No queue: callers wait for their send, at most num_consumers of them at once.
    queue_ = std::make_unique<MemoryQueue>(Sizer::kRequests, std::max(1, q.num_consumers),
                                           /*wait_for_result=*/true, /*block_on_overflow=*/false,
                                           absl::ZeroDuration());
  }
  if (absl::Status s = queue_->Start(); !s.ok()) return s;
  if (const uint64_t damaged = queue_->damaged_records(); damaged > 0 && host_ != nullptr) {
    // Running, but something acknowledged earlier could not be read back: say so.
    host_->ReportDegraded(id_, absl::StrCat(damaged,
                                            " damaged records of the sending queue "
                                            "skipped at start (kept in its quarantine/); ",
                                            queue_->sizes().requests, " requests recovered"));
  }
  {
    absl::MutexLock lock(&queue_view_->mu);
    queue_view_->queue = queue_.get();
  }
  absl::MutexLock lock(&mu_);
  started_ = true;
  const int workers = std::max(1, q.num_consumers);
  workers_.reserve(workers);
  active_workers_ = workers;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      WorkerLoop();
      absl::MutexLock lock(&mu_);
      --active_workers_;
    });
  }
  return absl::OkStatus();
}

void ExporterHelper::Consume(TelemetryPtr data, Completion done) {
  bool running;
  {
    absl::MutexLock lock(&mu_);
    running = started_ && !shut_down_;
  }
  if (!running) {
    std::move(done)(RetryableError(absl::StatusCode::kUnavailable,
                                   absl::StrCat("exporter ", id_.ToString(), " is not running"),
                                   absl::Seconds(1)));
    return;
  }
  // When callers wait for the send, the queue's answer is the send's outcome (counted by
  // the workers); otherwise an error means the request never got into the queue.
  const bool answer_is_send = settings_.queue.wait_for_result || !settings_.queue.enabled;
  if (answer_is_send) {
    queue_->Offer(std::move(data), std::move(done));
    return;
  }
  const Signal signal = data->signal();
  const size_t items = data->ItemCount();
  queue_->Offer(std::move(data),
                [this, signal, items, done = std::move(done)](absl::Status s) mutable {
                  if (!s.ok()) {
                    enqueue_failed_[static_cast<int>(signal)]->Add(items);
                    if (uint64_t n = refusal_log_.Add(items)) {
                      spdlog::warn(
                          "exporter {}: refused {} {} (counted since the last such "
                          "message): {}",
                          id_.ToString(), n, SignalItemName(signal), std::string(s.message()));
                    }
                  }
                  std::move(done)(std::move(s));
                });
}

std::vector<QueuedRequest> ExporterHelper::NextBatch(std::optional<QueuedRequest>* carry) {
  std::vector<QueuedRequest> batch;
  if (carry->has_value()) {
    batch.push_back(std::move(**carry));
    carry->reset();
    // Another worker may hold forming_mu_ while it waits for data that may never come:
    // what this one holds goes now rather than wait behind it.
    if (!forming_mu_.TryLock()) return batch;
  } else {
    forming_mu_.Lock();
    std::optional<QueuedRequest> first = queue_->Read(absl::InfiniteFuture());
    if (!first) {
      forming_mu_.Unlock();
      return batch;
    }
    batch.push_back(std::move(*first));
  }
  // Held from here to the return.
  struct Unlock {
    absl::Mutex* mu;
    ~Unlock() { mu->Unlock(); }
  } unlock{&forming_mu_};
  const std::optional<QueueBatchSettings>& b = settings_.queue.batch;
  if (!b) return batch;
  int64_t size = SizeOf(b->sizer, *batch.front().data);
  const absl::Time flush_at = absl::Now() + b->flush_timeout;
  while (size < b->min_size && !Aborted()) {
    std::optional<QueuedRequest> next = queue_->Read(flush_at);
    if (!next) break;
    const int64_t next_size = SizeOf(b->sizer, *next->data);
    // Requests of other clients' metadata, or that would overflow max_size, start the next
    // batch instead.
    const bool same_metadata = next->data->metadata() == batch.front().data->metadata() ||
                               (next->data->metadata() && batch.front().data->metadata() &&
                                *next->data->metadata() == *batch.front().data->metadata());
    if (!same_metadata || next->data->signal() != batch.front().data->signal() ||
        (b->max_size > 0 && size + next_size > b->max_size)) {
      *carry = std::move(next);
      break;
    }
    size += next_size;
    batch.push_back(std::move(*next));
  }
  return batch;
}

void ExporterHelper::WorkerLoop() {
  std::optional<QueuedRequest> carry;
  while (true) {
    std::vector<QueuedRequest> batch = NextBatch(&carry);
    if (batch.empty()) return;
    if (Aborted() && !queue_->durable()) {
      for (QueuedRequest& r : batch) {
        outcomes_.Record(r.data->signal(), r.data->ItemCount(),
                         absl::UnavailableError("shut down"));
        queue_->Commit(r.id, absl::UnavailableError("exporter shut down before sending"));
      }
      continue;
    }
    if (Aborted()) return;  // durable: stays queued for the next run
    SendBatch(std::move(batch));
  }
}

void ExporterHelper::SendBatch(std::vector<QueuedRequest> batch) {
  const Signal signal = batch.front().data->signal();
  std::vector<ItemRange> ranges;
  ranges.reserve(batch.size());
  for (const QueuedRequest& r : batch) {
    const size_t n = r.data->ItemCount();
    ranges.push_back(ItemRange{r.data, 0, n, n});
  }
  // Cut what exceeds max_size into parts (only a single request can, see NextBatch).
  std::vector<TelemetryPtr> parts;
  const std::optional<QueueBatchSettings>& b = settings_.queue.batch;
  if (b && b->max_size > 0 && b->sizer == Sizer::kItems && batch.size() == 1 &&
      static_cast<int64_t>(ranges[0].total) > b->max_size) {
    const size_t step = static_cast<size_t>(b->max_size);
    for (size_t from = 0; from < ranges[0].total; from += step) {
      ItemRange r = ranges[0];
      r.begin = from;
      r.end = std::min(from + step, r.total);
      parts.push_back(BuildBatch(signal, {r}));
    }
  } else {
    parts.push_back(BuildBatch(signal, ranges));
  }
  absl::Status outcome;
  size_t sent = 0, failed = 0;
  for (const TelemetryPtr& part : parts) {
    size_t rejected = 0;
    std::string message;
    absl::Status s = SendWithRetry(part, &rejected, &message);
    if (hooks_.on_failure && !Aborted()) {
      if (!s.ok()) {
        hooks_.on_failure(*part, s, part->ItemCount(), std::string(s.message()));
      } else if (rejected > 0 || !message.empty()) {
        hooks_.on_failure(*part, s, rejected, message);
      }
    }
    batch_items_->Observe(static_cast<double>(part->ItemCount()));
    batch_bytes_->Observe(static_cast<double>(part->ByteSize()));
    if (s.ok()) {
      sent += part->ItemCount() - std::min(rejected, part->ItemCount());
      failed += std::min(rejected, part->ItemCount());
    } else {
      failed += part->ItemCount();
      if (outcome.ok()) outcome = s;
    }
  }
  if (Aborted() && !outcome.ok() && queue_->durable()) {
    // Shutdown cut the retries short: a durable queue sends it after the restart.
    return;
  }
  outcomes_.Record(signal, sent, absl::OkStatus());
  if (failed > 0) {
    outcomes_.Record(signal, failed,
                     outcome.ok() ? absl::InvalidArgumentError("rejected") : outcome);
  }
  if (!outcome.ok()) {
    if (uint64_t n = drop_log_.Add(failed)) {
      spdlog::error("exporter {}: dropped {} {} (counted since the last such message): {}",
                    id_.ToString(), n, SignalItemName(signal), outcome.ToString());
    }
  }
  for (QueuedRequest& r : batch) queue_->Commit(r.id, outcome);
}

absl::Status ExporterHelper::SendWithRetry(const TelemetryPtr& data, size_t* rejected,
                                           std::string* message) {
  thread_local absl::BitGen gen;
  const RetrySettings& retry = settings_.retry;
  const absl::Time start = absl::Now();
  absl::Duration interval = retry.initial_interval;
  SendContext context;
  for (;; ++context.attempt) {
    if (Aborted()) return absl::UnavailableError("exporter shut down before a successful send");
    const absl::Time deadline = settings_.timeout > absl::ZeroDuration()
                                    ? absl::Now() + settings_.timeout
                                    : absl::InfiniteFuture();
    SendResult result = sender_->Send(*data, &context, deadline);
    if (result.status.ok()) {
      *rejected = result.rejected;
      *message = result.rejection_message;
      if (result.rejected > 0 || !result.rejection_message.empty()) {
        if (uint64_t n = partial_log_.Add(1)) {
          spdlog::warn(
              "exporter {}: upstream accepted {} request(s) partially since the last such "
              "message; the last rejected {} {}: {}",
              id_.ToString(), n, result.rejected, SignalItemName(data->signal()),
              result.rejection_message);
        }
      }
      return absl::OkStatus();
    }
    const absl::Status& status = result.status;
    if (Aborted() && IsRetryable(status)) {
      // Shutdown cut the send short (CancelAll): whatever the cancelled call reports, the
      // caller is told to send again later (UNAVAILABLE), as for a retry cut short below.
      return absl::UnavailableError(
          absl::StrCat("exporter shut down before a successful send: ", status.message()));
    }
    if (!retry.enabled || !IsRetryable(status)) return status;
    absl::Duration delay = interval;
    if (retry.full_jitter) {
      delay = interval * absl::Uniform(gen, 0.0, 1.0);
    } else if (retry.randomization_factor > 0) {
      delay = interval * absl::Uniform(gen, 1.0 - retry.randomization_factor,
                                       1.0 + retry.randomization_factor);
    }
    interval = std::min(interval * retry.multiplier, retry.max_interval);
    if (std::optional<absl::Duration> hint = RetryAfter(status);
        hint && *hint > absl::ZeroDuration()) {
      delay = *hint;
    }
    const absl::Duration max_elapsed = queue_->durable() && !retry.max_elapsed_time_set
                                           ? absl::ZeroDuration()
                                           : retry.max_elapsed_time;
    if (max_elapsed > absl::ZeroDuration()) {
      const absl::Duration remaining = start + max_elapsed - absl::Now();
      if (remaining <= absl::ZeroDuration()) {
        return absl::Status(status.code(),
                            absl::StrCat("no more retries left: ", status.message()));
      }
      delay = std::min(delay, remaining);
    }
    spdlog::debug("exporter {}: send failed, retrying in {}: {}", id_.ToString(),
                  absl::FormatDuration(delay), status.ToString());
    absl::MutexLock lock(&mu_);
    const absl::Time wake = absl::Now() + delay;
    while (!Aborted() && absl::Now() < wake) abort_cv_.WaitWithDeadline(&mu_, wake);
    if (Aborted()) {
      return absl::UnavailableError(
          absl::StrCat("shutdown before a successful retry: ", status.message()));
    }
  }
}

void ExporterHelper::Shutdown(absl::Time deadline) {
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    if (!started_) return;
    workers.swap(workers_);
  }
  // No new data; the workers send what is queued, then find the queue closed and empty.
  queue_->Close();
  {
    absl::MutexLock lock(&mu_);
    if (queue_->durable()) {
      // What is queued stays on disk for the next start: no reason to hold the shutdown
      // (up to its deadline) while upstream is down. Sends in flight are cut short and
      // their requests, not committed, are sent again after the restart.
      aborted_.store(true, std::memory_order_release);
      abort_cv_.SignalAll();
    } else if (!mu_.AwaitWithDeadline(absl::Condition(this, &ExporterHelper::WorkersDone),
                                      deadline)) {
      // Out of time: stop retry sleeps and cut the sends short.
      aborted_.store(true, std::memory_order_release);
      abort_cv_.SignalAll();
    }
  }
  if (Aborted()) sender_->CancelAll();
  for (std::thread& t : workers) t.join();
  aborted_.store(true, std::memory_order_release);
  DropQueued();
  sender_->Shutdown();
}

void ExporterHelper::DropQueued() {
  if (queue_->durable()) {
    const QueueSizes left = queue_->sizes();
    if (left.requests > 0) {
      spdlog::info("exporter {}: {} requests stay queued on disk for the next start",
                   id_.ToString(), left.requests);
    }
    return;
  }
  size_t dropped = 0;
  while (std::optional<QueuedRequest> r = queue_->Read(absl::InfinitePast())) {
    dropped += r->data->ItemCount();
    outcomes_.Record(r->data->signal(), r->data->ItemCount(), absl::UnavailableError("shut down"));
    queue_->Commit(r->id, absl::UnavailableError("exporter shut down before the data was sent"));
  }
  if (dropped > 0) {
    spdlog::error("exporter {}: shut down with {} items still in the memory queue; dropped",
                  id_.ToString(), dropped);
  }
}

}  // namespace otlpd
