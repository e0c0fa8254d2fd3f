#pragma once

#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "core/telemetry.h"

namespace otlpd {

// Called exactly once when a Consume finishes. OK means every item has reached every
// downstream exporter's queue (or durable store); an error means the caller must treat the
// whole request as not accepted (see core/status.h for which errors are retryable).
using Completion = absl::AnyInvocable<void(absl::Status) &&>;

// The one interface components meet through: receiver -> processors -> exporters.
// A consumer is bound to one signal by the pipeline graph; `data->signal()` always matches.
//
// Consume may finish synchronously (calling `done` before returning) or later from any
// thread. It must not block for long: slow work belongs in the component's own queue.
class Consumer {
 public:
  virtual ~Consumer() = default;
  virtual void Consume(TelemetryPtr data, Completion done) = 0;
};

using ConsumerPtr = std::shared_ptr<Consumer>;

}  // namespace otlpd
