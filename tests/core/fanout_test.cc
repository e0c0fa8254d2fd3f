#include "core/fanout.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "core/status.h"

namespace otlpd {
namespace {

// Records what it gets; completes now, or later when Release() is called.
class RecordingConsumer : public Consumer {
 public:
  explicit RecordingConsumer(absl::Status result = absl::OkStatus(), bool deferred = false)
      : result_(std::move(result)), deferred_(deferred) {}
  void Consume(TelemetryPtr data, Completion done) override {
    absl::MutexLock lock(&mu_);
    received_.push_back(std::move(data));
    if (deferred_) {
      pending_.push_back(std::move(done));
    } else {
      std::move(done)(result_);
    }
  }
  void Release() {
    std::vector<Completion> pending;
    {
      absl::MutexLock lock(&mu_);
      pending.swap(pending_);
    }
    for (auto& d : pending) std::move(d)(result_);
  }
  size_t received() {
    absl::MutexLock lock(&mu_);
    return received_.size();
  }

 private:
  absl::Mutex mu_;
  absl::Status result_;
  bool deferred_;
  std::vector<TelemetryPtr> received_;
  std::vector<Completion> pending_;
};

TelemetryPtr OneSpan() {
  auto t = std::make_shared<Telemetry>(Signal::kTraces);
  t->mutable_traces()->add_resource_spans()->add_scope_spans()->add_spans()->set_name("s");
  return t;
}

TEST(FanOutConsumerTest, EveryConsumerGetsTheSameDataAndOkWhenAllOk) {
  auto a = std::make_shared<RecordingConsumer>();
  auto b = std::make_shared<RecordingConsumer>();
  FanOutConsumer fanout({a, b});
  absl::Status got = absl::UnknownError("not called");
  int calls = 0;
  fanout.Consume(OneSpan(), [&](absl::Status s) {
    got = s;
    ++calls;
  });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(got.ok());
  EXPECT_EQ(a->received(), 1u);
  EXPECT_EQ(b->received(), 1u);
}

TEST(FanOutConsumerTest, CompletesOnlyAfterTheSlowestAndReportsTheError) {
  auto fast = std::make_shared<RecordingConsumer>();
  auto slow = std::make_shared<RecordingConsumer>(
      RetryableError(absl::StatusCode::kUnavailable, "queue full", absl::Seconds(2)), true);
  FanOutConsumer fanout({fast, slow});
  std::atomic<int> calls{0};
  absl::Status got;
  fanout.Consume(OneSpan(), [&](absl::Status s) {
    got = s;
    calls++;
  });
  EXPECT_EQ(calls.load(), 0);  // the slow one has not answered
  std::thread t([&] { slow->Release(); });
  t.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(got.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsRetryable(got));
  ASSERT_TRUE(RetryAfter(got).has_value());
  EXPECT_EQ(*RetryAfter(got), absl::Seconds(2));
}

TEST(FanOutConsumerTest, OfReturnsTheSingleConsumerItself) {
  auto a = std::make_shared<RecordingConsumer>();
  EXPECT_EQ(FanOutConsumer::Of({a}).get(), a.get());
  EXPECT_NE(FanOutConsumer::Of({a, a}).get(), a.get());
}

TEST(TelemetryTest, CountsItemsPerSignal) {
  EXPECT_EQ(OneSpan()->ItemCount(), 1u);
  Telemetry m(Signal::kMetrics);
  auto* metric = m.mutable_metrics()->add_resource_metrics()->add_scope_metrics()->add_metrics();
  metric->mutable_sum()->add_data_points();
  metric->mutable_sum()->add_data_points();
  EXPECT_EQ(m.ItemCount(), 2u);
  Telemetry l(Signal::kLogs);
  l.mutable_logs()->add_resource_logs()->add_scope_logs()->add_log_records();
  EXPECT_EQ(l.ItemCount(), 1u);
}

}  // namespace
}  // namespace otlpd
