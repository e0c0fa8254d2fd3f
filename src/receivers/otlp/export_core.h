#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/component.h"
#include "core/factory.h"
#include "core/metrics.h"
#include "core/telemetry.h"

namespace otlpd {

enum class OtlpTransport : uint8_t { kGrpc = 0, kHttp = 1 };

// What a transport needs to answer one Export call.
struct ExportResult {
  absl::Status status;  // the pipeline's answer (or why the request never entered it)
  size_t rejected = 0;  // items removed by id validation (partial_success)
};

using ExportReply = absl::AnyInvocable<void(ExportResult) &&>;

// The part of the OTLP receiver both transports share: id validation, self-metrics, the
// hand-off to the pipeline and in-flight tracking. Pending completions hold it by
// shared_ptr, so one arriving after the receiver is gone finds it still alive.
class ExportCore : public std::enable_shared_from_this<ExportCore> {
 public:
  ExportCore(const CreateSettings& settings, ReceiverConsumers consumers);

  bool HasConsumer(Signal signal) const { return consumers_.For(signal) != nullptr; }

  // Validates ids, then hands `data` to the signal's pipeline. `reply` runs exactly once,
  // possibly before Export returns, possibly later on another thread.
  void Export(OtlpTransport transport, std::unique_ptr<Telemetry> data, ExportReply reply);

  // From now on Export refuses with UNAVAILABLE.
  void BeginShutdown() { stopping_.store(true, std::memory_order_relaxed); }
  // Waits until no Export is waiting for its pipeline, or until `deadline`.
  bool WaitIdle(absl::Time deadline) const;

  const ComponentId& id() const { return id_; }

 private:
  Counter* accepted(OtlpTransport t, Signal s) const {
    return accepted_[static_cast<int>(t)][static_cast<int>(s)];
  }
  Counter* refused(OtlpTransport t, Signal s) const {
    return refused_[static_cast<int>(t)][static_cast<int>(s)];
  }

  ComponentId id_;
  ReceiverConsumers consumers_;
  std::array<std::array<Counter*, 3>, 2> accepted_{};
  std::array<std::array<Counter*, 3>, 2> refused_{};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> in_flight_{0};
};

// How long clients are told to wait when the pipeline refuses without a hint.
inline constexpr absl::Duration kDefaultRetryAfter = absl::Seconds(1);

}  // namespace otlpd
