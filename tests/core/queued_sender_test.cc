#include "core/queued_sender.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/status.h"
#include "testing/wait.h"

namespace otlpd {
namespace {

using ::otlpd::testing::WaitUntil;

// A traces request with `spans` spans, the first named `name`.
TelemetryPtr MakeTraces(const std::string& name, int spans = 1) {
  auto t = std::make_shared<Telemetry>(Signal::kTraces);
  auto* scope = t->mutable_traces()->add_resource_spans()->add_scope_spans();
  for (int i = 0; i < spans; ++i) scope->add_spans()->set_name(i == 0 ? name : "more");
  return t;
}

std::string FirstSpanName(const Telemetry& t) {
  return t.traces().resource_spans(0).scope_spans(0).spans(0).name();
}

// What the send function saw, and the completions the sender called.
class Recorder {
 public:
  void RecordAttempt(const std::string& name) {
    absl::MutexLock lock(&mu_);
    attempts_.push_back({name, absl::Now()});
  }
  void RecordDelivered(const std::string& name) {
    absl::MutexLock lock(&mu_);
    delivered_.push_back(name);
  }
  Completion Done(std::string name) {
    return [this, name](absl::Status s) {
      absl::MutexLock lock(&mu_);
      completions_.push_back({name, s, absl::Now()});
    };
  }
  // Bounded wait until `pred` holds.
  bool WaitFor(std::function<bool(const Recorder&)> pred,
               absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto cond = [&] {
      mu_.AssertHeld();
      return pred(*this);
    };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
  }
  struct Attempt {
    std::string name;
    absl::Time at;
  };
  struct Done_ {
    std::string name;
    absl::Status status;
    absl::Time at;
  };
  std::vector<Attempt> attempts() const {
    absl::MutexLock lock(&mu_);
    return attempts_;
  }
  std::vector<std::string> delivered() const {
    absl::MutexLock lock(&mu_);
    return delivered_;
  }
  std::vector<Done_> completions() const {
    absl::MutexLock lock(&mu_);
    return completions_;
  }
  // Unlocked views for WaitFor predicates (called with mu_ held).
  size_t attempts_n() const ABSL_NO_THREAD_SAFETY_ANALYSIS { return attempts_.size(); }
  size_t delivered_n() const ABSL_NO_THREAD_SAFETY_ANALYSIS { return delivered_.size(); }
  size_t completions_n() const ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_.size(); }

 private:
  mutable absl::Mutex mu_;
  std::vector<Attempt> attempts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> delivered_ ABSL_GUARDED_BY(mu_);
  std::vector<Done_> completions_ ABSL_GUARDED_BY(mu_);
};

RetrySettings FastRetry() {
  RetrySettings r;
  r.initial_interval = absl::Milliseconds(10);
  r.max_interval = absl::Milliseconds(100);
  r.max_elapsed_time = absl::Seconds(5);
  r.multiplier = 2;
  r.randomization_factor = 0;
  return r;
}

QueueSettings Queue(int consumers, int size, bool enabled = true) {
  QueueSettings q;
  q.enabled = enabled;
  q.num_consumers = consumers;
  q.queue_size = size;
  return q;
}

uint64_t CounterValue(MetricsRegistry& m, const std::string& name, const std::string& id) {
  return m.GetCounter(name, {{"exporter", id}})->value();
}

TEST(QueuedRetrySenderTest, DeliversInOrderWithOneConsumer) {
  MetricsRegistry metrics;
  Recorder rec;
  QueuedRetrySender sender(
      "otlp/order", Queue(1, 1000), FastRetry(),
      [&](const Telemetry& t) {
        rec.RecordDelivered(FirstSpanName(t));
        return absl::OkStatus();
      },
      &metrics);
  sender.Start();
  std::vector<std::string> expected;
  for (int i = 0; i < 200; ++i) {
    expected.push_back(absl::StrCat("s", i));
    sender.Submit(MakeTraces(expected.back(), 3), rec.Done(expected.back()));
  }
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.delivered_n() == 200; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(rec.delivered(), expected);
  // Queue enabled: every completion is OK (data reached the queue).
  for (const auto& c : rec.completions()) EXPECT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(rec.completions().size(), 200u);
  EXPECT_EQ(CounterValue(metrics, "otelcol_exporter_sent_spans", "otlp/order"), 600u);
  EXPECT_EQ(CounterValue(metrics, "otelcol_exporter_send_failed_spans", "otlp/order"), 0u);
}

TEST(QueuedRetrySenderTest, RefusesWhenQueueIsFull) {
  MetricsRegistry metrics;
  Recorder rec;
  absl::Notification gate;
  QueuedRetrySender sender(
      "otlp/full", Queue(1, 2), FastRetry(),
      [&](const Telemetry& t) {
        rec.RecordAttempt(FirstSpanName(t));
        gate.WaitForNotificationWithTimeout(absl::Seconds(10));
        rec.RecordDelivered(FirstSpanName(t));
        return absl::OkStatus();
      },
      &metrics);
  sender.Start();
  EXPECT_EQ(
      metrics.GetGauge("otelcol_exporter_queue_capacity", {{"exporter", "otlp/full"}})->value(), 2);
  sender.Submit(MakeTraces("a"), rec.Done("a"));
  // "a" is taken by the only worker, which blocks; the queue then holds two more.
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.attempts_n() == 1; }));
  sender.Submit(MakeTraces("b"), rec.Done("b"));
  sender.Submit(MakeTraces("c"), rec.Done("c"));
  EXPECT_EQ(sender.queue_size(), 2u);
  EXPECT_NE(
      metrics.RenderPrometheus().find("otelcol_exporter_queue_size{exporter=\"otlp/full\"} 2"),
      std::string::npos)
      << metrics.RenderPrometheus();
  sender.Submit(MakeTraces("d", 5), rec.Done("d"));
  std::vector<Recorder::Done_> done = rec.completions();
  ASSERT_EQ(done.size(), 4u);
  EXPECT_EQ(done[3].name, "d");
  EXPECT_EQ(done[3].status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsRetryable(done[3].status));
  EXPECT_EQ(done[3].status.message(), "sending queue is full");
  EXPECT_EQ(RetryAfter(done[3].status), absl::Seconds(1));
  EXPECT_EQ(CounterValue(metrics, "otelcol_exporter_enqueue_failed_spans", "otlp/full"), 5u);

  gate.Notify();
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.delivered_n() == 3; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(rec.delivered(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(sender.queue_size(), 0u);
}

TEST(QueuedRetrySenderTest, RetriesWithBackoffUntilSuccess) {
  MetricsRegistry metrics;
  Recorder rec;
  std::atomic<int> failures_left{3};
  QueuedRetrySender sender(
      "otlp/retry", Queue(2, 10), FastRetry(),
      [&](const Telemetry& t) {
        rec.RecordAttempt(FirstSpanName(t));
        if (failures_left.fetch_sub(1) > 0) return absl::UnavailableError("upstream down");
        rec.RecordDelivered(FirstSpanName(t));
        return absl::OkStatus();
      },
      &metrics);
  sender.Start();
  sender.Submit(MakeTraces("x", 4), rec.Done("x"));
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.delivered_n() == 1; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  std::vector<Recorder::Attempt> attempts = rec.attempts();
  ASSERT_EQ(attempts.size(), 4u);
  // Backoff 10ms, 20ms, 40ms (no randomization).
  EXPECT_GE(attempts[1].at - attempts[0].at, absl::Milliseconds(10));
  EXPECT_GE(attempts[2].at - attempts[1].at, absl::Milliseconds(20));
  EXPECT_GE(attempts[3].at - attempts[2].at, absl::Milliseconds(40));
  EXPECT_EQ(rec.delivered(), std::vector<std::string>{"x"});
  EXPECT_EQ(CounterValue(metrics, "otelcol_exporter_sent_spans", "otlp/retry"), 4u);
  EXPECT_EQ(CounterValue(metrics, "otelcol_exporter_send_failed_spans", "otlp/retry"), 0u);
}

TEST(QueuedRetrySenderTest, BackoffIsCappedAtMaxInterval) {
  MetricsRegistry metrics;
  Recorder rec;
  std::atomic<int> failures_left{4};
  RetrySettings retry = FastRetry();
  retry.initial_interval = absl::Milliseconds(30);
  retry.max_interval = absl::Milliseconds(40);
  retry.multiplier = 10;
  QueuedRetrySender sender(
      "otlp/cap", Queue(1, 10), retry,
      [&](const Telemetry& t) {
        rec.RecordAttempt(FirstSpanName(t));
        if (failures_left.fetch_sub(1) > 0) return absl::DeadlineExceededError("slow");
        return absl::OkStatus();
      },
      &metrics);
  sender.Start();
  sender.Submit(MakeTraces("x"), rec.Done("x"));
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.attempts_n() == 5; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  std::vector<Recorder::Attempt> a = rec.attempts();
  // 30ms, then 40ms every time (not 300ms, 3s).
  EXPECT_LT(a[4].at - a[0].at, absl::Milliseconds(600));
  EXPECT_GE(a[4].at - a[0].at, absl::Milliseconds(30 + 40 * 3));
  EXPECT_EQ(CounterValue(metrics, "otelcol_exporter_sent_spans", "otlp/cap"), 1u);
}

TEST(QueuedRetrySenderTest, PermanentErrorIsDroppedAtOnce) {
  MetricsRegistry metrics;
  Recorder rec;
  QueuedRetrySender sender(
      "otlp/perm", Queue(1, 10), FastRetry(),
      [&](const Telemetry& t) {
        rec.RecordAttempt(FirstSpanName(t));
        if (FirstSpanName(t) == "bad") return absl::InvalidArgumentError("bad data");
        rec.RecordDelivered(FirstSpanName(t));
        return absl::OkStatus();
      },
      &metrics);
  sender.Start();
  sender.Submit(MakeTraces("bad", 7), rec.Done("bad"));
  sender.Submit(MakeTraces("good", 2), rec.Done("good"));
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.delivered_n() == 1; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  std::vector<Recorder::Attempt> attempts = rec.attempts();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].name, "bad");
  EXPECT_EQ(attempts[1].name, "good");
  EXPECT_EQ(CounterValue(metrics, "otelcol_exporter_send_failed_spans", "otlp/perm"), 7u);
  EXPECT_EQ(CounterValue(metrics, "otelcol_exporter_sent_spans", "otlp/perm"), 2u);
}

TEST(QueuedRetrySenderTest, GivesUpAfterMaxElapsedTime) {
  MetricsRegistry metrics;
  Recorder rec;
  RetrySettings retry = FastRetry();
  retry.max_interval = absl::Milliseconds(20);
  retry.max_elapsed_time = absl::Milliseconds(200);
  QueuedRetrySender sender(
      "otlp/elapsed", Queue(1, 10), retry,
      [&](const Telemetry& t) {
        rec.RecordAttempt(FirstSpanName(t));
        return absl::UnavailableError("down");
      },
      &metrics);
  sender.Start();
  const absl::Time start = absl::Now();
  sender.Submit(MakeTraces("x", 3), rec.Done("x"));
  Counter* failed =
      metrics.GetCounter("otelcol_exporter_send_failed_spans", {{"exporter", "otlp/elapsed"}});
  ASSERT_TRUE(
      WaitUntil([&] { return failed->value() == 3; }, absl::Seconds(10), absl::Milliseconds(2)))
      << "never gave up";
  const absl::Time gave_up = absl::Now();
  EXPECT_GE(gave_up - start, absl::Milliseconds(200));
  EXPECT_LT(gave_up - start, absl::Milliseconds(1000));
  const size_t attempts = rec.attempts().size();
  // 10ms then 20ms steps within 200ms: about 10 attempts.
  EXPECT_GE(attempts, 6u);
  EXPECT_LE(attempts, 13u);
  // Nothing is retried after giving up.
  absl::SleepFor(absl::Milliseconds(60));
  EXPECT_EQ(rec.attempts().size(), attempts);
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(CounterValue(metrics, "otelcol_exporter_sent_spans", "otlp/elapsed"), 0u);
}

TEST(QueuedRetrySenderTest, RetryAfterHintOverridesBackoff) {
  MetricsRegistry metrics;
  Recorder rec;
  std::atomic<int> calls{0};
  RetrySettings retry = FastRetry();
  retry.initial_interval = absl::Milliseconds(5);
  QueuedRetrySender sender(
      "otlp/hint", Queue(1, 10), retry,
      [&](const Telemetry& t) {
        rec.RecordAttempt(FirstSpanName(t));
        if (calls.fetch_add(1) == 0) {
          return RetryableError(absl::StatusCode::kResourceExhausted, "slow down",
                                absl::Milliseconds(250));
        }
        rec.RecordDelivered(FirstSpanName(t));
        return absl::OkStatus();
      },
      &metrics);
  sender.Start();
  sender.Submit(MakeTraces("x"), rec.Done("x"));
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.delivered_n() == 1; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  std::vector<Recorder::Attempt> a = rec.attempts();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_GE(a[1].at - a[0].at, absl::Milliseconds(250));
  EXPECT_LT(a[1].at - a[0].at, absl::Seconds(2));
}

TEST(QueuedRetrySenderTest, RetryAfterHintIsCappedByMaxElapsedTime) {
  MetricsRegistry metrics;
  Recorder rec;
  RetrySettings retry = FastRetry();
  retry.max_elapsed_time = absl::Milliseconds(150);
  QueuedRetrySender sender(
      "otlp/hintcap", Queue(1, 10), retry,
      [&](const Telemetry& t) {
        rec.RecordAttempt(FirstSpanName(t));
        return RetryableError(absl::StatusCode::kUnavailable, "later", absl::Seconds(30));
      },
      &metrics);
  sender.Start();
  const absl::Time start = absl::Now();
  sender.Submit(MakeTraces("x"), rec.Done("x"));
  Counter* failed =
      metrics.GetCounter("otelcol_exporter_send_failed_spans", {{"exporter", "otlp/hintcap"}});
  WaitUntil([&] { return failed->value() != 0; }, absl::Seconds(10), absl::Milliseconds(2));
  EXPECT_EQ(failed->value(), 1u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // One attempt at once, one when the elapsed-time budget runs out.
  EXPECT_EQ(rec.attempts().size(), 2u);
  sender.Shutdown(absl::Now() + absl::Seconds(5));
}

TEST(QueuedRetrySenderTest, ShutdownDrainsQueueBeforeDeadline) {
  MetricsRegistry metrics;
  Recorder rec;
  QueuedRetrySender sender(
      "otlp/drain", Queue(1, 100), FastRetry(),
      [&](const Telemetry& t) {
        absl::SleepFor(absl::Milliseconds(10));
        rec.RecordDelivered(FirstSpanName(t));
        return absl::OkStatus();
      },
      &metrics);
  sender.Start();
  for (int i = 0; i < 20; ++i) sender.Submit(MakeTraces(absl::StrCat(i)), rec.Done("x"));
  const absl::Time start = absl::Now();
  sender.Shutdown(start + absl::Seconds(10));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(rec.delivered().size(), 20u);
  EXPECT_EQ(CounterValue(metrics, "otelcol_exporter_sent_spans", "otlp/drain"), 20u);

  // Stopped: new data is refused with a retryable error.
  sender.Submit(MakeTraces("late"), rec.Done("late"));
  std::vector<Recorder::Done_> done = rec.completions();
  ASSERT_EQ(done.back().name, "late");
  EXPECT_EQ(done.back().status.code(), absl::StatusCode::kUnavailable);
}

TEST(QueuedRetrySenderTest, ShutdownAbortsRetriesAtDeadline) {
  MetricsRegistry metrics;
  Recorder rec;
  RetrySettings retry = FastRetry();
  retry.initial_interval = absl::Seconds(30);
  retry.max_interval = absl::Seconds(30);
  retry.max_elapsed_time = absl::ZeroDuration();  // forever
  QueuedRetrySender sender(
      "otlp/abort", Queue(1, 100), retry,
      [&](const Telemetry& t) {
        rec.RecordAttempt(FirstSpanName(t));
        return absl::UnavailableError("down");
      },
      &metrics);
  sender.Start();
  for (int i = 0; i < 5; ++i) sender.Submit(MakeTraces(absl::StrCat(i), 2), rec.Done("x"));
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.attempts_n() == 1; }));
  const absl::Time start = absl::Now();
  sender.Shutdown(start + absl::Milliseconds(200));
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(190));
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_EQ(rec.attempts().size(), 1u);
  // The one in retry and the four still queued are all counted as failed.
  EXPECT_EQ(CounterValue(metrics, "otelcol_exporter_send_failed_spans", "otlp/abort"), 10u);
  EXPECT_EQ(sender.queue_size(), 0u);
}

TEST(QueuedRetrySenderTest, QueueDisabledCompletesAfterSend) {
  MetricsRegistry metrics;
  Recorder rec;
  absl::Notification gate;
  QueuedRetrySender sender(
      "otlp/sync", Queue(2, 1000, /*enabled=*/false), FastRetry(),
      [&](const Telemetry& t) {
        rec.RecordAttempt(FirstSpanName(t));
        gate.WaitForNotificationWithTimeout(absl::Seconds(10));
        if (FirstSpanName(t) == "bad") return absl::InvalidArgumentError("rejected upstream");
        return absl::OkStatus();
      },
      &metrics);
  sender.Start();
  sender.Submit(MakeTraces("good"), rec.Done("good"));
  sender.Submit(MakeTraces("bad"), rec.Done("bad"));
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.attempts_n() == 2; }));
  EXPECT_EQ(rec.completions().size(), 0u);  // callers still wait
  // Capacity is num_consumers: a third request is refused.
  sender.Submit(MakeTraces("third"), rec.Done("third"));
  ASSERT_EQ(rec.completions().size(), 1u);
  EXPECT_EQ(rec.completions()[0].name, "third");
  EXPECT_EQ(rec.completions()[0].status.message(), "sending queue is full");

  gate.Notify();
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.completions_n() == 3; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  for (const auto& c : rec.completions()) {
    if (c.name == "good") {
      EXPECT_TRUE(c.status.ok()) << c.status;
    } else if (c.name == "bad") {
      EXPECT_EQ(c.status.code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(QueuedRetrySenderTest, RefusesBeforeStart) {
  MetricsRegistry metrics;
  Recorder rec;
  QueuedRetrySender sender(
      "otlp/idle", Queue(1, 10), FastRetry(), [](const Telemetry&) { return absl::OkStatus(); },
      &metrics);
  sender.Submit(MakeTraces("x"), rec.Done("x"));
  ASSERT_EQ(rec.completions().size(), 1u);
  EXPECT_EQ(rec.completions()[0].status.code(), absl::StatusCode::kUnavailable);
  sender.Shutdown(absl::Now());
}

TEST(QueuedRetrySenderTest, RetryDisabledDropsOnFirstFailure) {
  MetricsRegistry metrics;
  Recorder rec;
  RetrySettings retry = FastRetry();
  retry.enabled = false;
  QueuedRetrySender sender(
      "otlp/noretry", Queue(1, 10), retry,
      [&](const Telemetry& t) {
        rec.RecordAttempt(FirstSpanName(t));
        return absl::UnavailableError("down");
      },
      &metrics);
  sender.Start();
  sender.Submit(MakeTraces("x"), rec.Done("x"));
  Counter* failed =
      metrics.GetCounter("otelcol_exporter_send_failed_spans", {{"exporter", "otlp/noretry"}});
  WaitUntil([&] { return failed->value() != 0; }, absl::Seconds(10), absl::Milliseconds(2));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(failed->value(), 1u);
  EXPECT_EQ(rec.attempts().size(), 1u);
}

// --- config -----------------------------------------------------------------------

struct Parsed {
  QueueSettings queue;
  RetrySettings retry;
  Diagnostics diag;
};

std::unique_ptr<Parsed> Parse(const std::string& yaml) {
  auto p = std::make_unique<Parsed>();
  ConfigNode root(YAML::Load(yaml), "exporters::otlp", &p->diag);
  ParseQueueSettings(root.Child("sending_queue"), &p->queue);
  ParseRetrySettings(root.Child("retry_on_failure"), &p->retry);
  root.ReportUnknownKeys();
  return p;
}

TEST(QueuedSenderConfigTest, DefaultsMatchOtelcol) {
  auto p = Parse("{}");
  EXPECT_TRUE(p->diag.ok()) << p->diag.Format();
  EXPECT_TRUE(p->queue.enabled);
  EXPECT_EQ(p->queue.num_consumers, 10);
  EXPECT_EQ(p->queue.queue_size, 1000);
  EXPECT_TRUE(p->retry.enabled);
  EXPECT_EQ(p->retry.initial_interval, absl::Seconds(5));
  EXPECT_EQ(p->retry.max_interval, absl::Seconds(30));
  EXPECT_EQ(p->retry.max_elapsed_time, absl::Minutes(5));
  EXPECT_EQ(p->retry.multiplier, 1.5);
  EXPECT_EQ(p->retry.randomization_factor, 0.5);
}

TEST(QueuedSenderConfigTest, ParsesAllKeys) {
  auto p = Parse(R"(
sending_queue:
  enabled: false
  num_consumers: 4
  queue_size: 50
retry_on_failure:
  enabled: true
  initial_interval: 100ms
  max_interval: 2s
  max_elapsed_time: 0
  multiplier: 2.5
  randomization_factor: 0.1
)");
  EXPECT_TRUE(p->diag.ok()) << p->diag.Format();
  EXPECT_FALSE(p->queue.enabled);
  EXPECT_EQ(p->queue.num_consumers, 4);
  EXPECT_EQ(p->queue.queue_size, 50);
  EXPECT_EQ(p->retry.initial_interval, absl::Milliseconds(100));
  EXPECT_EQ(p->retry.max_interval, absl::Seconds(2));
  EXPECT_EQ(p->retry.max_elapsed_time, absl::ZeroDuration());
  EXPECT_EQ(p->retry.multiplier, 2.5);
  EXPECT_EQ(p->retry.randomization_factor, 0.1);
}

TEST(QueuedSenderConfigTest, ReportsInvalidValues) {
  auto p = Parse(R"(
sending_queue:
  num_consumers: 0
  queue_size: -3
  bogus: 1
retry_on_failure:
  initial_interval: 10s
  max_elapsed_time: 1s
  multiplier: 0.5
  randomization_factor: 1.5
)");
  const std::string errors = p->diag.Format();
  EXPECT_EQ(p->diag.errors().size(), 6u) << errors;
  EXPECT_NE(errors.find("sending_queue::num_consumers: num_consumers must be positive"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("sending_queue::queue_size"), std::string::npos) << errors;
  EXPECT_NE(errors.find("sending_queue::bogus: unknown key"), std::string::npos) << errors;
  EXPECT_NE(errors.find("retry_on_failure::max_elapsed_time"), std::string::npos) << errors;
  EXPECT_NE(errors.find("retry_on_failure::multiplier"), std::string::npos) << errors;
  EXPECT_NE(errors.find("retry_on_failure::randomization_factor"), std::string::npos) << errors;
}

TEST(QueuedSenderConfigTest, DisabledQueueSkipsSizeValidation) {
  auto p = Parse("sending_queue: {enabled: false, queue_size: 0}\n");
  EXPECT_TRUE(p->diag.ok()) << p->diag.Format();
}

}  // namespace
}  // namespace otlpd
