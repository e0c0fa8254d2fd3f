#pragma once

#include <functional>
#include <memory>
#include <thread>

#include "absl/time/time.h"
#include "core/component.h"
#include "processors/batch/config.h"

namespace otlpd {

// otelcol's batch processor for one pipeline, without its latency trap: a request that
// arrives while downstream is idle is sent at once (with anything pending); requests that
// arrive while a batch is being consumed downstream (an exporter writing, syncing, ...)
// wait and go together as soon as it finishes — group commit, so a sequential client
// never waits for `timeout`. A batch is also sent once it reaches send_batch_size (at most
// send_batch_max_size items each) or when the oldest pending item has waited `timeout`.
//
// The acknowledgement contract holds: a caller's completion runs once every batch holding
// a part of its request has been consumed downstream, with the first error any of them got.
//
// With metadata_keys, requests are batched per distinct combination of those client
// metadata values (each combination is its own batcher), and merged batches carry exactly
// those keys downstream.
//
// With adaptive.enabled, send_batch_size (the size trigger, and the size batches are split
// at) follows AdaptiveBatchSize: after each batch's downstream completion, its measured
// latency moves the size toward the one that holds adaptive.target_latency, within
// [min_send_batch_size, max_send_batch_size]. The current size is the gauge
// otlpd_processor_batch_adaptive_send_batch_size.
class BatchProcessor : public Processor {
 public:
  // `now` times exports for the adaptive mode (tests pass a simulated clock).
  BatchProcessor(const CreateSettings& settings, const BatchProcessorConfig& config, Signal signal,
                 ConsumerPtr next, std::function<absl::Time()> now = absl::Now);
  ~BatchProcessor() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

 private:
  // The batching state; downstream completions hold it, so one arriving after the processor
  // is gone finds it alive.
  class Core;
  std::shared_ptr<Core> core_;
  std::thread timer_;
};

}  // namespace otlpd
