#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/component.h"
#include "core/factory.h"
#include "core/metrics.h"
#include "core/telemetry.h"
#include "receivers/otlp/request_decoder.h"

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

  // Hands a decoded request (ids already validated, `rejected` items dropped) to the
  // signal's pipeline. `reply` runs exactly once, possibly before Export returns, possibly
  // later on another thread.
  void Export(OtlpTransport transport, std::shared_ptr<Telemetry> data, size_t rejected,
              ExportReply reply);
  // Counts items refused before they reached the pipeline (a request that could not be
  // read or was not authenticated counts as one refused request with no known items).
  void CountRefused(OtlpTransport transport, Signal signal, size_t items) {
    refused(transport, signal)->Add(items);
  }
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }

  // From now on Export refuses with UNAVAILABLE.
  void BeginShutdown() { stopping_.store(true, std::memory_order_relaxed); }
  // Waits until no Export is waiting for its pipeline, or until `deadline`.
  bool WaitIdle(absl::Time deadline);
  // Answers every Export still waiting for its pipeline with `status` (their pipeline
  // completions, when they come, are counted but answer nobody), so that shutdown leaves
  // no client without an answer.
  void AnswerPending(const absl::Status& status);

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
  // Exports waiting for their pipeline: an intrusive list, so that registering one is a
  // pointer swap under a lock held for nanoseconds.
  struct Pending {
    ExportReply reply;
    Pending* prev = nullptr;
    Pending* next = nullptr;
  };
  // Unlinks `p` and returns its reply, or an empty one if AnswerPending took it first.
  ExportReply Take(Pending* p);

  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  Pending* pending_head_ ABSL_GUARDED_BY(mu_) = nullptr;
  size_t pending_count_ ABSL_GUARDED_BY(mu_) = 0;
};

// How long clients are told to wait when the pipeline refuses without a hint.
inline constexpr absl::Duration kDefaultRetryAfter = absl::Seconds(1);

}  // namespace otlpd
