#include "core/fanout.h"

#include <atomic>
#include <memory>

#include "absl/synchronization/mutex.h"

namespace otlpd {

namespace {

// Joins the completions of one Consume call.
struct Join {
  Join(size_t n, Completion d) : pending(n), done(std::move(d)) {}
  void Finish(absl::Status s) {
    if (!s.ok()) {
      absl::MutexLock lock(&mu);
      if (first_error.ok()) first_error = std::move(s);
    }
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      absl::Status result;
      {
        absl::MutexLock lock(&mu);
        result = std::move(first_error);
      }
      std::move(done)(std::move(result));
    }
  }
  std::atomic<size_t> pending;
  Completion done;
  absl::Mutex mu;
  absl::Status first_error;
};

}  // namespace

FanOutConsumer::FanOutConsumer(std::vector<ConsumerPtr> consumers)
    : consumers_(std::move(consumers)) {}

void FanOutConsumer::Consume(TelemetryPtr data, Completion done) {
  if (consumers_.empty()) {
    std::move(done)(absl::OkStatus());
    return;
  }
  auto join = std::make_shared<Join>(consumers_.size(), std::move(done));
  for (const ConsumerPtr& c : consumers_) {
    c->Consume(data, [join](absl::Status s) { join->Finish(std::move(s)); });
  }
}

ConsumerPtr FanOutConsumer::Of(std::vector<ConsumerPtr> consumers) {
  if (consumers.size() == 1) return consumers.front();
  return std::make_shared<FanOutConsumer>(std::move(consumers));
}

}  // namespace otlpd
