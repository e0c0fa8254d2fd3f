#include "processors/batch/batch_processor.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/batch_builder.h"
#include "core/metrics.h"
#include "processors/batch/adaptive_batch_size.h"

namespace otlpd {

namespace {

const std::vector<double>& SendSizeBuckets() {
  static const std::vector<double> kBuckets = {10,   25,    50,    75,    100,   250,   500,  750,
                                               1000, 2000,  3000,  4000,  5000,  6000,  7000, 8000,
                                               9000, 10000, 20000, 30000, 50000, 100000};
  return kBuckets;
}

// Holds a caller's completion until every part of its request is done downstream; the last
// batch to let go of it completes the caller.
class CallerAck {
 public:
  explicit CallerAck(Completion done) : done_(std::move(done)) {}
  ~CallerAck() { std::move(done_)(std::move(status_)); }
  CallerAck(const CallerAck&) = delete;
  CallerAck& operator=(const CallerAck&) = delete;

  void Record(const absl::Status& status) {
    if (status.ok()) return;
    absl::MutexLock lock(&mu_);
    if (status_.ok()) status_ = status;
  }

 private:
  Completion done_;
  absl::Mutex mu_;
  absl::Status status_;  // first error; read unlocked by the destructor, which runs last
};

}  // namespace

class BatchProcessor::Core : public std::enable_shared_from_this<Core> {
 public:
  Core(const CreateSettings& settings, const BatchProcessorConfig& config, Signal signal,
       ConsumerPtr next, std::function<absl::Time()> now)
      : signal_(signal),
        next_(std::move(next)),
        now_(std::move(now)),
        adaptive_enabled_(config.adaptive.enabled),
        send_batch_max_size_(static_cast<size_t>(config.send_batch_max_size)),
        timeout_(config.timeout),
        metadata_keys_(config.metadata_keys),
        cardinality_limit_(static_cast<size_t>(config.metadata_cardinality_limit)) {
    MetricsRegistry* metrics = settings.host != nullptr ? &settings.host->metrics() : nullptr;
    if (metrics == nullptr) {
      own_metrics_ = std::make_unique<MetricsRegistry>();
      metrics = own_metrics_.get();
    }
    const Labels labels = {{"processor", settings.id.ToString()}};
    send_size_ = metrics->GetHistogram("otelcol_processor_batch_batch_send_size", labels,
                                       SendSizeBuckets(), "Number of units in the batch");
    size_trigger_ = metrics->GetCounter("otelcol_processor_batch_batch_size_trigger_send", labels,
                                        "Number of times the batch was sent due to a size trigger");
    timeout_trigger_ =
        metrics->GetCounter("otelcol_processor_batch_timeout_trigger_send", labels,
                            "Number of times the batch was sent due to a timeout trigger");
    idle_trigger_ = metrics->GetCounter(
        "otlpd_processor_batch_idle_trigger_send", labels,
        "Number of times what was pending was sent because downstream had become idle");
    absl::MutexLock lock(&mu_);
    send_batch_size_ = static_cast<size_t>(config.send_batch_size);
    if (adaptive_enabled_) {
      adaptive_.emplace(static_cast<size_t>(config.send_batch_size),
                        static_cast<size_t>(config.adaptive.min_send_batch_size),
                        static_cast<size_t>(config.adaptive.max_send_batch_size),
                        config.adaptive.target_latency);
      send_batch_size_ = adaptive_->size();
      adaptive_size_ = metrics->GetGauge(
          "otlpd_processor_batch_adaptive_send_batch_size", labels,
          "send_batch_size as the adaptive mode set it last, to hold the target export latency");
      adaptive_size_->Set(static_cast<int64_t>(send_batch_size_));
    }
  }

  void Consume(TelemetryPtr data, Completion done) {
    const size_t items = data->ItemCount();
    std::vector<std::pair<Shard*, Batch>> ready;
    Shard* pass_through = nullptr;
    bool over_limit = false;
    {
      absl::MutexLock lock(&mu_);
      Shard* shard = ShardForLocked(*data);
      const bool send_now = timeout_ <= absl::ZeroDuration() || stopped_;
      const bool fits = items <= BatchLimit();
      if (shard == nullptr) {
        over_limit = true;
      } else if (items == 0 || (shard->pending_items == 0 && fits &&
                                (items >= send_batch_size_ || send_now || shard->in_flight == 0))) {
        // Nothing to wait for or to join: it goes as it is, uncopied.
        pass_through = shard;
        ++shard->in_flight;
      } else {
        const bool was_empty = shard->pending_items == 0;
        auto ack = std::make_shared<CallerAck>(std::move(done));
        shard->pending.push_back(
            Piece{ItemRange{std::move(data), 0, items, items}, std::move(ack)});
        shard->pending_items += items;
        while (shard->pending_items > 0 && (shard->pending_items >= send_batch_size_ || send_now)) {
          ready.emplace_back(shard, TakeLocked(shard, BatchLimit(), Trigger::kSize));
        }
        // Downstream idle (and not about to get a full batch): nothing to wait for.
        if (shard->pending_items > 0 && shard->in_flight == 0 && ready.empty()) {
          TakeAllLocked(shard, Trigger::kIdle, &ready);
        }
        if (shard->pending_items > 0 && (was_empty || !ready.empty())) {
          shard->deadline = absl::Now() + timeout_;
          timer_cv_.Signal();
        }
        for (auto& [s, b] : ready) ++s->in_flight;
      }
    }
    if (over_limit) {
      // Permanent, as otelcol: the client gets HTTP 500 / INTERNAL.
      std::move(done)(absl::InternalError("too many batcher metadata-value combinations"));
      return;
    }
    if (pass_through != nullptr) {
      PassThrough(pass_through, std::move(data), items, std::move(done));
      return;
    }
    for (auto& [shard, batch] : ready) Send(shard, std::move(batch));
  }

  // Sends what has waited `timeout` (downstream stayed busy that long); returns when
  // stopped.
  void TimerLoop() {
    absl::MutexLock lock(&mu_);
    while (!stopped_) {
      const absl::Time now = absl::Now();
      absl::Time next = absl::InfiniteFuture();
      std::vector<std::pair<Shard*, Batch>> ready;
      for (auto& [key, shard] : shards_) {
        if (shard->pending_items == 0) continue;
        if (shard->deadline <= now) {
          TakeAllLocked(shard.get(), Trigger::kTimeout, &ready);
        } else {
          next = std::min(next, shard->deadline);
        }
      }
      if (ready.empty()) {
        timer_cv_.WaitWithDeadline(&mu_, next);
        continue;
      }
      for (auto& [s, b] : ready) ++s->in_flight;
      mu_.Unlock();
      for (auto& [shard, batch] : ready) Send(shard, std::move(batch));
      mu_.Lock();
    }
  }

  void Stop() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    timer_cv_.SignalAll();
  }

  // Sends everything pending and waits (until `deadline`) for downstream to finish.
  void Flush(absl::Time deadline) {
    std::vector<std::pair<Shard*, Batch>> ready;
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
      for (auto& [key, shard] : shards_) TakeAllLocked(shard.get(), Trigger::kTimeout, &ready);
      for (auto& [s, b] : ready) ++s->in_flight;
    }
    for (auto& [shard, batch] : ready) Send(shard, std::move(batch));
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithDeadline(absl::Condition(this, &Core::Idle), deadline);
  }

 private:
  struct Piece {
    ItemRange range;
    std::shared_ptr<CallerAck> ack;
  };
  enum class Trigger { kSize, kTimeout, kIdle };
  struct Batch {
    std::vector<ItemRange> ranges;
    std::vector<std::shared_ptr<CallerAck>> acks;
    size_t items = 0;
    Trigger trigger = Trigger::kSize;
  };
  // The batcher of one combination of metadata values.
  struct Shard {
    std::deque<Piece> pending;
    size_t pending_items = 0;
    absl::Time deadline = absl::InfiniteFuture();  // when what is pending must go
    int in_flight = 0;                             // batches of this shard downstream
    std::shared_ptr<const Metadata> metadata;      // the metadata_keys' values
  };

  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& [key, shard] : shards_) {
      if (shard->in_flight > 0) return false;
    }
    return true;
  }

  size_t BatchLimit() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // Adaptive: batches are cut at the current size, which stays within send_batch_max_size.
    if (adaptive_enabled_) return send_batch_size_;
    return send_batch_max_size_ > 0 ? send_batch_max_size_ : static_cast<size_t>(-1);
  }

  Shard* ShardForLocked(const Telemetry& data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::string key;
    std::shared_ptr<Metadata> values;
    if (!metadata_keys_.empty()) {
      values = std::make_shared<Metadata>();
      for (const std::string& k : metadata_keys_) {
        const std::string* v = data.metadata() ? FindMetadata(*data.metadata(), k) : nullptr;
        // An absent key and an empty value are different combinations (as otelcol).
        absl::StrAppend(&key, v ? "+" : "-", v ? *v : "", std::string(1, '\0'));
        if (v != nullptr) values->emplace_back(k, *v);
      }
    }
    auto it = shards_.find(key);
    if (it != shards_.end()) return it->second.get();
    if (cardinality_limit_ > 0 && shards_.size() >= cardinality_limit_) return nullptr;
    auto shard = std::make_unique<Shard>();
    shard->metadata = std::move(values);
    Shard* raw = shard.get();
    shards_.emplace(std::move(key), std::move(shard));
    return raw;
  }

  Batch TakeLocked(Shard* shard, size_t max_items, Trigger trigger)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Batch batch;
    batch.trigger = trigger;
    while (!shard->pending.empty() && batch.items < max_items) {
      Piece& front = shard->pending.front();
      const size_t want = max_items - batch.items;
      const size_t have = front.range.end - front.range.begin;
      if (have <= want) {
        batch.items += have;
        batch.ranges.push_back(std::move(front.range));
        batch.acks.push_back(std::move(front.ack));
        shard->pending.pop_front();
      } else {
        // Cut the request: its first `want` items go now, the rest stays first in line.
        ItemRange head = front.range;
        head.end = head.begin + want;
        front.range.begin = head.end;
        batch.items += want;
        batch.ranges.push_back(std::move(head));
        batch.acks.push_back(front.ack);
      }
    }
    shard->pending_items -= batch.items;
    if (shard->pending_items == 0) shard->deadline = absl::InfiniteFuture();
    return batch;
  }

  void TakeAllLocked(Shard* shard, Trigger trigger, std::vector<std::pair<Shard*, Batch>>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (shard->pending_items > 0) {
      out->emplace_back(shard, TakeLocked(shard, BatchLimit(), trigger));
    }
  }

  Counter* TriggerCounter(Trigger trigger) const {
    switch (trigger) {
      case Trigger::kSize:
        return size_trigger_;
      case Trigger::kTimeout:
        return timeout_trigger_;
      case Trigger::kIdle:
        return idle_trigger_;
    }
    return size_trigger_;
  }

  // Sends a batch whose in_flight count the caller already took.
  void Send(Shard* shard, Batch batch) {
    TelemetryPtr built = BuildBatch(signal_, batch.ranges);
    if (built != batch.ranges.front().data) {
      // Just built, not shared yet: a merged batch carries its shard's metadata values,
      // nothing of any one client's.
      std::const_pointer_cast<Telemetry>(built)->set_metadata(shard->metadata);
    }
    batch.ranges.clear();
    send_size_->Observe(static_cast<double>(batch.items));
    TriggerCounter(batch.trigger)->Add(1);
    const absl::Time start = adaptive_enabled_ ? now_() : absl::InfinitePast();
    next_->Consume(std::move(built), [self = shared_from_this(), shard, items = batch.items, start,
                                      acks = std::move(batch.acks)](absl::Status status) mutable {
      for (auto& ack : acks) ack->Record(status);
      acks.clear();  // the last reference to an ack completes its caller
      self->OnDownstreamDone(shard, items, start);
    });
  }

  void PassThrough(Shard* shard, TelemetryPtr data, size_t items, Completion done) {
    if (items > 0) {
      send_size_->Observe(static_cast<double>(items));
      size_trigger_->Add(1);
    }
    const absl::Time start = adaptive_enabled_ ? now_() : absl::InfinitePast();
    next_->Consume(std::move(data), [self = shared_from_this(), shard, items, start,
                                     done = std::move(done)](absl::Status status) mutable {
      std::move(done)(std::move(status));
      self->OnDownstreamDone(shard, items, start);
    });
  }

  // A downstream consume of `items` of `shard`, sent at `start`, finished: what piled up
  // meanwhile goes now.
  void OnDownstreamDone(Shard* shard, size_t items, absl::Time start) {
    std::vector<std::pair<Shard*, Batch>> ready;
    const absl::Time end = adaptive_enabled_ ? now_() : absl::InfinitePast();
    {
      absl::MutexLock lock(&mu_);
      if (adaptive_enabled_ && items > 0) {
        send_batch_size_ = adaptive_->OnExport(items, end - start);
        adaptive_size_->Set(static_cast<int64_t>(send_batch_size_));
        // A smaller size may make what is pending a full batch already.
        while (shard->pending_items >= send_batch_size_) {
          ready.emplace_back(shard, TakeLocked(shard, BatchLimit(), Trigger::kSize));
        }
      }
      --shard->in_flight;
      if (shard->in_flight == 0 && shard->pending_items > 0) {
        TakeAllLocked(shard, Trigger::kIdle, &ready);
      }
      for (auto& [s, b] : ready) ++s->in_flight;
    }
    for (auto& [s, batch] : ready) Send(s, std::move(batch));
  }

  const Signal signal_;
  const ConsumerPtr next_;
  const std::function<absl::Time()> now_;
  const bool adaptive_enabled_;
  const size_t send_batch_max_size_;
  const absl::Duration timeout_;
  const std::vector<std::string> metadata_keys_;
  const size_t cardinality_limit_;

  std::unique_ptr<MetricsRegistry> own_metrics_;  // when the host gives none (tests)
  Histogram* send_size_;
  Counter* size_trigger_;
  Counter* timeout_trigger_;
  Counter* idle_trigger_;

  absl::Mutex mu_;
  absl::CondVar timer_cv_;
  // Fixed, or set by adaptive_ after each export.
  size_t send_batch_size_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<AdaptiveBatchSize> adaptive_ ABSL_GUARDED_BY(mu_);
  Gauge* adaptive_size_ = nullptr;
  // Shards live as long as the processor (as in otelcol), so pointers to them stay valid.
  absl::flat_hash_map<std::string, std::unique_ptr<Shard>> shards_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

BatchProcessor::BatchProcessor(const CreateSettings& settings, const BatchProcessorConfig& config,
                               Signal signal, ConsumerPtr next, std::function<absl::Time()> now)
    : core_(std::make_shared<Core>(settings, config, signal, std::move(next), std::move(now))) {}

BatchProcessor::~BatchProcessor() {
  // Never leave a caller without its completion: flush what is pending, without waiting.
  Shutdown(absl::Now());
}

absl::Status BatchProcessor::Start() {
  if (!timer_.joinable()) timer_ = std::thread([core = core_] { core->TimerLoop(); });
  return absl::OkStatus();
}

void BatchProcessor::Shutdown(absl::Time deadline) {
  core_->Stop();
  if (timer_.joinable()) timer_.join();
  core_->Flush(deadline);
}

void BatchProcessor::Consume(TelemetryPtr data, Completion done) {
  core_->Consume(std::move(data), std::move(done));
}

}  // namespace otlpd
