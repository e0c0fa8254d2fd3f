#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/component.h"
#include "core/metrics.h"
#include "core/batch_builder.h"
#include "processors/batch/config.h"

namespace otlpd {

// otelcol's batch processor for one pipeline: groups incoming requests into batches of
// send_batch_size items (at most send_batch_max_size each) or whatever is pending after
// `timeout`. A caller's completion runs once every batch holding a part of its request has
// been consumed downstream, with the first error any of them got.
class BatchProcessor : public Processor {
 public:
  BatchProcessor(const CreateSettings& settings, const BatchProcessorConfig& config, Signal signal,
                 ConsumerPtr next);
  ~BatchProcessor() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

 private:
  // Holds a caller's completion until every part of its request is done downstream;
  // the last batch to let go of it completes the caller.
  class CallerAck;

  // Downstream consumes not finished yet; shared with their completions, which may run
  // after the processor is gone.
  struct InFlight {
    absl::Mutex mu;
    absl::CondVar cv;
    std::atomic<int64_t> count{0};
    void Add(int64_t n);
    void Done();
    void WaitZero(absl::Time deadline);
  };

  struct Piece {
    ItemRange range;
    std::shared_ptr<CallerAck> ack;
  };
  struct Batch {
    std::vector<ItemRange> ranges;
    std::vector<std::shared_ptr<CallerAck>> acks;
    size_t items = 0;
  };
  enum class Trigger { kSize, kTimeout };

  // Removes up to `max_items` of the oldest pending items as one batch.
  Batch TakeLocked(size_t max_items) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes everything pending as batches of at most send_batch_max_size.
  std::vector<Batch> TakeAllLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t BatchLimit() const;
  void Send(Batch batch, Trigger trigger);
  void PassThrough(TelemetryPtr data, size_t items, Completion done);
  void TimerLoop();

  const Signal signal_;
  const ConsumerPtr next_;
  const size_t send_batch_size_;
  const size_t send_batch_max_size_;
  const absl::Duration timeout_;
  std::shared_ptr<InFlight> in_flight_ = std::make_shared<InFlight>();

  std::unique_ptr<MetricsRegistry> own_metrics_;  // when the host gives none (tests)
  Histogram* send_size_;
  Counter* size_trigger_;
  Counter* timeout_trigger_;

  absl::Mutex mu_;
  absl::CondVar timer_cv_;
  std::deque<Piece> pending_ ABSL_GUARDED_BY(mu_);
  size_t pending_items_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_;
};

}  // namespace otlpd
