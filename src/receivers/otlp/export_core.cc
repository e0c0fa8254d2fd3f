#include "receivers/otlp/export_core.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/id_validation.h"
#include "core/status.h"

namespace otlpd {

ExportCore::ExportCore(const CreateSettings& settings, ReceiverConsumers consumers)
    : id_(settings.id), consumers_(std::move(consumers)) {
  MetricsRegistry& registry = settings.host->metrics();
  for (OtlpTransport t : {OtlpTransport::kGrpc, OtlpTransport::kHttp}) {
    Labels labels = {{"receiver", id_.ToString()},
                     {"transport", t == OtlpTransport::kGrpc ? "grpc" : "http"}};
    for (Signal s : kAllSignals) {
      std::string item(SignalItemName(s));
      accepted_[static_cast<int>(t)][static_cast<int>(s)] =
          registry.GetCounter("otelcol_receiver_accepted_" + item, labels,
                              "Number of " + item + " successfully pushed into the pipeline.");
      refused_[static_cast<int>(t)][static_cast<int>(s)] =
          registry.GetCounter("otelcol_receiver_refused_" + item, labels,
                              "Number of " + item + " that could not be pushed into the pipeline.");
    }
  }
}

void ExportCore::Export(OtlpTransport transport, std::unique_ptr<Telemetry> data,
                        ExportReply reply) {
  const Signal signal = data->signal();
  const ConsumerPtr& consumer = consumers_.For(signal);
  if (consumer == nullptr) {
    std::move(reply)(ExportResult{absl::UnimplementedError(absl::StrCat(
                                      "no pipeline takes ", std::string(SignalName(signal)))),
                                  0});
    return;
  }
  const IdValidation ids = RemoveInvalidItems(data.get());
  if (ids.rejected > 0) refused(transport, signal)->Add(ids.rejected);
  if (stopping_.load(std::memory_order_relaxed)) {
    refused(transport, signal)->Add(ids.kept);
    std::move(reply)(ExportResult{RetryableError(absl::StatusCode::kUnavailable,
                                                 "receiver is shutting down", kDefaultRetryAfter),
                                  ids.rejected});
    return;
  }
  if (ids.kept == 0) {
    // Nothing left to deliver (an empty request, or every item rejected).
    std::move(reply)(ExportResult{absl::OkStatus(), ids.rejected});
    return;
  }
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  consumer->Consume(
      TelemetryPtr(std::move(data)), [self = shared_from_this(), transport, signal, ids,
                                      reply = std::move(reply)](absl::Status status) mutable {
        (status.ok() ? self->accepted(transport, signal) : self->refused(transport, signal))
            ->Add(ids.kept);
        std::move(reply)(ExportResult{std::move(status), ids.rejected});
        self->in_flight_.fetch_sub(1, std::memory_order_release);
      });
}

bool ExportCore::WaitIdle(absl::Time deadline) const {
  while (in_flight_.load(std::memory_order_acquire) > 0) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace otlpd
