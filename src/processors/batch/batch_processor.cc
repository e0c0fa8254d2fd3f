#include "processors/batch/batch_processor.h"

#include <algorithm>
#include <utility>

namespace otlpd {

namespace {

const std::vector<double>& SendSizeBuckets() {
  static const std::vector<double> kBuckets = {10,   25,    50,    75,    100,   250,   500,  750,
                                               1000, 2000,  3000,  4000,  5000,  6000,  7000, 8000,
                                               9000, 10000, 20000, 30000, 50000, 100000};
  return kBuckets;
}

}  // namespace

class BatchProcessor::CallerAck {
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

void BatchProcessor::InFlight::Add(int64_t n) { count.fetch_add(n, std::memory_order_relaxed); }

void BatchProcessor::InFlight::Done() {
  if (count.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // Taking the lock orders this wake-up after a waiter's check of `count`.
    absl::MutexLock lock(&mu);
    cv.SignalAll();
  }
}

void BatchProcessor::InFlight::WaitZero(absl::Time deadline) {
  absl::MutexLock lock(&mu);
  while (count.load(std::memory_order_acquire) > 0) {
    if (cv.WaitWithDeadline(&mu, deadline)) return;
  }
}

BatchProcessor::BatchProcessor(const CreateSettings& settings, const BatchProcessorConfig& config,
                               Signal signal, ConsumerPtr next)
    : signal_(signal),
      next_(std::move(next)),
      send_batch_size_(static_cast<size_t>(config.send_batch_size)),
      send_batch_max_size_(static_cast<size_t>(config.send_batch_max_size)),
      timeout_(config.timeout) {
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
}

BatchProcessor::~BatchProcessor() {
  bool stopped;
  {
    absl::MutexLock lock(&mu_);
    stopped = stopped_;
  }
  // Never leave a caller without its completion: flush what is pending, without waiting.
  if (!stopped) Shutdown(absl::Now());
}

absl::Status BatchProcessor::Start() {
  if (timeout_ > absl::ZeroDuration() && !timer_.joinable()) {
    timer_ = std::thread([this] { TimerLoop(); });
  }
  return absl::OkStatus();
}

size_t BatchProcessor::BatchLimit() const {
  return send_batch_max_size_ > 0 ? send_batch_max_size_ : static_cast<size_t>(-1);
}

void BatchProcessor::Consume(TelemetryPtr data, Completion done) {
  const size_t items = data->ItemCount();
  if (items == 0) {
    // Nothing to batch (e.g. resources without spans): keep it flowing as it is.
    PassThrough(std::move(data), 0, std::move(done));
    return;
  }
  std::vector<Batch> ready;
  bool pass_through = false;
  {
    absl::MutexLock lock(&mu_);
    const bool send_now = timeout_ <= absl::ZeroDuration() || stopped_;
    const bool fits = send_batch_max_size_ == 0 || items <= send_batch_max_size_;
    if (pending_items_ == 0 && fits && (items >= send_batch_size_ || send_now)) {
      // Already a full batch on its own: no reason to wait or rebuild it.
      pass_through = true;
    } else {
      const bool was_empty = pending_items_ == 0;
      auto ack = std::make_shared<CallerAck>(std::move(done));
      pending_.push_back(Piece{ItemRange{std::move(data), 0, items, items}, std::move(ack)});
      pending_items_ += items;
      while (pending_items_ > 0 && (pending_items_ >= send_batch_size_ || send_now)) {
        ready.push_back(TakeLocked(BatchLimit()));
      }
      if (pending_items_ > 0) {
        if (was_empty || !ready.empty()) deadline_ = absl::Now() + timeout_;
        // The timer sleeps without a deadline while nothing is pending.
        if (was_empty) timer_cv_.Signal();
      }
      in_flight_->Add(static_cast<int64_t>(ready.size()));
    }
  }
  if (pass_through) {
    PassThrough(std::move(data), items, std::move(done));
    return;
  }
  for (Batch& batch : ready) Send(std::move(batch), Trigger::kSize);
}

BatchProcessor::Batch BatchProcessor::TakeLocked(size_t max_items) {
  Batch batch;
  while (!pending_.empty() && batch.items < max_items) {
    Piece& front = pending_.front();
    const size_t want = max_items - batch.items;
    const size_t have = front.range.end - front.range.begin;
    if (have <= want) {
      batch.items += have;
      batch.ranges.push_back(std::move(front.range));
      batch.acks.push_back(std::move(front.ack));
      pending_.pop_front();
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
  pending_items_ -= batch.items;
  return batch;
}

std::vector<BatchProcessor::Batch> BatchProcessor::TakeAllLocked() {
  std::vector<Batch> batches;
  while (pending_items_ > 0) batches.push_back(TakeLocked(BatchLimit()));
  in_flight_->Add(static_cast<int64_t>(batches.size()));
  return batches;
}

void BatchProcessor::Send(Batch batch, Trigger trigger) {
  TelemetryPtr out = BuildBatch(signal_, batch.ranges);
  batch.ranges.clear();
  send_size_->Observe(static_cast<double>(batch.items));
  (trigger == Trigger::kSize ? size_trigger_ : timeout_trigger_)->Add(1);
  next_->Consume(std::move(out), [acks = std::move(batch.acks),
                                  in_flight = in_flight_](absl::Status status) mutable {
    for (auto& ack : acks) ack->Record(status);
    acks.clear();  // the last reference to an ack completes its caller
    in_flight->Done();
  });
}

void BatchProcessor::PassThrough(TelemetryPtr data, size_t items, Completion done) {
  if (items > 0) {
    send_size_->Observe(static_cast<double>(items));
    size_trigger_->Add(1);
  }
  in_flight_->Add(1);
  next_->Consume(std::move(data),
                 [done = std::move(done), in_flight = in_flight_](absl::Status status) mutable {
                   std::move(done)(std::move(status));
                   in_flight->Done();
                 });
}

void BatchProcessor::TimerLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopped_) {
    if (pending_items_ == 0) {
      timer_cv_.Wait(&mu_);
      continue;
    }
    if (absl::Now() < deadline_) {
      timer_cv_.WaitWithDeadline(&mu_, deadline_);
      continue;
    }
    std::vector<Batch> ready = TakeAllLocked();
    mu_.Unlock();
    for (Batch& batch : ready) Send(std::move(batch), Trigger::kTimeout);
    mu_.Lock();
  }
}

void BatchProcessor::Shutdown(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    timer_cv_.SignalAll();
  }
  if (timer_.joinable()) timer_.join();
  std::vector<Batch> ready;
  {
    absl::MutexLock lock(&mu_);
    ready = TakeAllLocked();
  }
  for (Batch& batch : ready) Send(std::move(batch), Trigger::kTimeout);
  in_flight_->WaitZero(deadline);
}

}  // namespace otlpd
