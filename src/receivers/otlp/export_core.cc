#include "receivers/otlp/export_core.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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

void ExportCore::Export(OtlpTransport transport, std::shared_ptr<Telemetry> data, size_t rejected,
                        ExportReply reply) {
  const Signal signal = data->signal();
  const ConsumerPtr& consumer = consumers_.For(signal);
  if (consumer == nullptr) {
    std::move(reply)(ExportResult{absl::UnimplementedError(absl::StrCat(
                                      "no pipeline takes ", std::string(SignalName(signal)))),
                                  0});
    return;
  }
  if (rejected > 0) refused(transport, signal)->Add(rejected);
  const size_t kept = data->ItemCount();
  if (stopping_.load(std::memory_order_relaxed)) {
    refused(transport, signal)->Add(kept);
    std::move(reply)(ExportResult{RetryableError(absl::StatusCode::kUnavailable,
                                                 "receiver is shutting down", kDefaultRetryAfter),
                                  rejected});
    return;
  }
  if (kept == 0) {
    // Nothing left to deliver (an empty request, or every item rejected).
    std::move(reply)(ExportResult{absl::OkStatus(), rejected});
    return;
  }
  auto* pending = new Pending{std::move(reply)};
  {
    absl::MutexLock lock(&mu_);
    pending->next = pending_head_;
    if (pending_head_ != nullptr) pending_head_->prev = pending;
    pending_head_ = pending;
    ++pending_count_;
  }
  consumer->Consume(TelemetryPtr(std::move(data)), [self = shared_from_this(), transport, signal,
                                                    kept, rejected, pending](absl::Status status) {
    (status.ok() ? self->accepted(transport, signal) : self->refused(transport, signal))->Add(kept);
    ExportReply reply = self->Take(pending);
    if (reply) std::move(reply)(ExportResult{std::move(status), rejected});
  });
}

ExportReply ExportCore::Take(Pending* p) {
  absl::MutexLock lock(&mu_);
  ExportReply reply = std::move(p->reply);
  if (!reply) {
    // AnswerPending answered it and left it to us to free.
    delete p;
    return reply;
  }
  if (p->prev != nullptr) p->prev->next = p->next;
  if (p->next != nullptr) p->next->prev = p->prev;
  if (pending_head_ == p) pending_head_ = p->next;
  --pending_count_;
  delete p;
  return reply;
}

void ExportCore::AnswerPending(const absl::Status& status) {
  std::vector<ExportReply> replies;
  {
    absl::MutexLock lock(&mu_);
    // The nodes stay allocated (replies moved out) until their completions Take them.
    for (Pending* p = pending_head_; p != nullptr; p = p->next) {
      replies.push_back(std::move(p->reply));
      p->reply = nullptr;
    }
    pending_head_ = nullptr;
    pending_count_ = 0;
  }
  for (ExportReply& reply : replies) std::move(reply)(ExportResult{status, 0});
}

bool ExportCore::WaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_count_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

}  // namespace otlpd
