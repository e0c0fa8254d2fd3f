#include "core/exporter_helper.h"

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
#include "testing/test_host.h"
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

// A RequestSender whose attempts run `fn`.
class FuncSender : public RequestSender {
 public:
  using Fn = std::function<absl::Status(const Telemetry&)>;
  explicit FuncSender(Fn fn) : fn_(std::move(fn)) {}
  SendResult Send(const Telemetry& data, SendContext*, absl::Time) override {
    return {fn_(data), 0, ""};
  }
  void CancelAll() override {}

 private:
  Fn fn_;
};

// The helper under test, with its metrics in `host`'s registry.
struct Helper {
  Helper(const std::string& id, QueueSettings queue, RetrySettings retry, FuncSender::Fn fn) {
    ExporterHelperSettings settings;
    settings.queue = queue;
    settings.retry = retry;
    ComponentId cid;
    ComponentId::Parse(id, &cid);
    helper = std::make_unique<ExporterHelper>(CreateSettings{cid, &host}, settings,
                                              std::make_unique<FuncSender>(std::move(fn)));
  }
  void Start() { ASSERT_TRUE(helper->Start().ok()); }
  void Submit(TelemetryPtr data, Completion done) {
    helper->Consume(std::move(data), std::move(done));
  }
  void Shutdown(absl::Time deadline) { helper->Shutdown(deadline); }
  size_t queue_size() const { return static_cast<size_t>(helper->queue()->sizes().requests); }

  ::otlpd::testing::TestHost host;
  std::unique_ptr<ExporterHelper> helper;
};

TEST(ExporterHelperTest, DeliversInOrderWithOneConsumer) {
  Recorder rec;
  Helper sender("otlp/order", Queue(1, 1000), FastRetry(), [&](const Telemetry& t) {
    rec.RecordDelivered(FirstSpanName(t));
    return absl::OkStatus();
  });
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
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_sent_spans", "otlp/order"), 600u);
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_send_failed_spans", "otlp/order"),
            0u);
}

TEST(ExporterHelperTest, RefusesWhenQueueIsFull) {
  Recorder rec;
  absl::Notification gate;
  Helper sender("otlp/full", Queue(1, 2), FastRetry(), [&](const Telemetry& t) {
    rec.RecordAttempt(FirstSpanName(t));
    gate.WaitForNotificationWithTimeout(absl::Seconds(10));
    rec.RecordDelivered(FirstSpanName(t));
    return absl::OkStatus();
  });
  sender.Start();
  EXPECT_NE(sender.host.registry.RenderPrometheus().find(
                "otelcol_exporter_queue_capacity{exporter=\"otlp/full\"} 2"),
            std::string::npos);
  sender.Submit(MakeTraces("a"), rec.Done("a"));
  // "a" is taken by the only worker, which blocks; it still counts until it is sent, so the
  // queue has room for one more.
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.attempts_n() == 1; }));
  sender.Submit(MakeTraces("b"), rec.Done("b"));
  EXPECT_EQ(sender.queue_size(), 2u);
  EXPECT_NE(sender.host.registry.RenderPrometheus().find(
                "otelcol_exporter_queue_size{exporter=\"otlp/full\"} 2"),
            std::string::npos)
      << sender.host.registry.RenderPrometheus();
  sender.Submit(MakeTraces("d", 5), rec.Done("d"));
  std::vector<Recorder::Done_> done = rec.completions();
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[2].name, "d");
  EXPECT_EQ(done[2].status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsRetryable(done[2].status));
  EXPECT_EQ(done[2].status.message(), "sending queue is full");
  EXPECT_EQ(RetryAfter(done[2].status), absl::Seconds(1));
  EXPECT_EQ(
      CounterValue(sender.host.registry, "otelcol_exporter_enqueue_failed_spans", "otlp/full"), 5u);

  gate.Notify();
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.delivered_n() == 2; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(rec.delivered(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(sender.queue_size(), 0u);
}

TEST(ExporterHelperTest, RetriesWithBackoffUntilSuccess) {
  Recorder rec;
  std::atomic<int> failures_left{3};
  Helper sender("otlp/retry", Queue(2, 10), FastRetry(), [&](const Telemetry& t) {
    rec.RecordAttempt(FirstSpanName(t));
    if (failures_left.fetch_sub(1) > 0) return absl::UnavailableError("upstream down");
    rec.RecordDelivered(FirstSpanName(t));
    return absl::OkStatus();
  });
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
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_sent_spans", "otlp/retry"), 4u);
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_send_failed_spans", "otlp/retry"),
            0u);
}

TEST(ExporterHelperTest, BackoffIsCappedAtMaxInterval) {
  Recorder rec;
  std::atomic<int> failures_left{4};
  RetrySettings retry = FastRetry();
  retry.initial_interval = absl::Milliseconds(30);
  retry.max_interval = absl::Milliseconds(40);
  retry.multiplier = 10;
  Helper sender("otlp/cap", Queue(1, 10), retry, [&](const Telemetry& t) {
    rec.RecordAttempt(FirstSpanName(t));
    if (failures_left.fetch_sub(1) > 0) return absl::DeadlineExceededError("slow");
    return absl::OkStatus();
  });
  sender.Start();
  sender.Submit(MakeTraces("x"), rec.Done("x"));
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.attempts_n() == 5; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  std::vector<Recorder::Attempt> a = rec.attempts();
  // 30ms, then 40ms every time (not 300ms, 3s).
  EXPECT_LT(a[4].at - a[0].at, absl::Milliseconds(600));
  EXPECT_GE(a[4].at - a[0].at, absl::Milliseconds(30 + 40 * 3));
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_sent_spans", "otlp/cap"), 1u);
}

TEST(ExporterHelperTest, PermanentErrorIsDroppedAtOnce) {
  Recorder rec;
  Helper sender("otlp/perm", Queue(1, 10), FastRetry(), [&](const Telemetry& t) {
    rec.RecordAttempt(FirstSpanName(t));
    if (FirstSpanName(t) == "bad") return absl::InvalidArgumentError("bad data");
    rec.RecordDelivered(FirstSpanName(t));
    return absl::OkStatus();
  });
  sender.Start();
  sender.Submit(MakeTraces("bad", 7), rec.Done("bad"));
  sender.Submit(MakeTraces("good", 2), rec.Done("good"));
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.delivered_n() == 1; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  std::vector<Recorder::Attempt> attempts = rec.attempts();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].name, "bad");
  EXPECT_EQ(attempts[1].name, "good");
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_send_failed_spans", "otlp/perm"),
            7u);
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_sent_spans", "otlp/perm"), 2u);
}

TEST(ExporterHelperTest, GivesUpAfterMaxElapsedTime) {
  Recorder rec;
  RetrySettings retry = FastRetry();
  retry.max_interval = absl::Milliseconds(20);
  retry.max_elapsed_time = absl::Milliseconds(200);
  Helper sender("otlp/elapsed", Queue(1, 10), retry, [&](const Telemetry& t) {
    rec.RecordAttempt(FirstSpanName(t));
    return absl::UnavailableError("down");
  });
  sender.Start();
  const absl::Time start = absl::Now();
  sender.Submit(MakeTraces("x", 3), rec.Done("x"));
  Counter* failed = sender.host.registry.GetCounter("otelcol_exporter_send_failed_spans",
                                                    {{"exporter", "otlp/elapsed"}});
  absl::Time gave_up = absl::InfiniteFuture();
  for (absl::Time limit = start + absl::Seconds(10); absl::Now() < limit;) {
    if (failed->value() == 3) {
      gave_up = absl::Now();
      break;
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_NE(gave_up, absl::InfiniteFuture()) << "never gave up";
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
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_sent_spans", "otlp/elapsed"), 0u);
}

TEST(ExporterHelperTest, RetryAfterHintOverridesBackoff) {
  Recorder rec;
  std::atomic<int> calls{0};
  RetrySettings retry = FastRetry();
  retry.initial_interval = absl::Milliseconds(5);
  Helper sender("otlp/hint", Queue(1, 10), retry, [&](const Telemetry& t) {
    rec.RecordAttempt(FirstSpanName(t));
    if (calls.fetch_add(1) == 0) {
      return RetryableError(absl::StatusCode::kResourceExhausted, "slow down",
                            absl::Milliseconds(250));
    }
    rec.RecordDelivered(FirstSpanName(t));
    return absl::OkStatus();
  });
  sender.Start();
  sender.Submit(MakeTraces("x"), rec.Done("x"));
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.delivered_n() == 1; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  std::vector<Recorder::Attempt> a = rec.attempts();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_GE(a[1].at - a[0].at, absl::Milliseconds(250));
  EXPECT_LT(a[1].at - a[0].at, absl::Seconds(2));
}

TEST(ExporterHelperTest, RetryAfterHintIsCappedByMaxElapsedTime) {
  Recorder rec;
  RetrySettings retry = FastRetry();
  retry.max_elapsed_time = absl::Milliseconds(150);
  Helper sender("otlp/hintcap", Queue(1, 10), retry, [&](const Telemetry& t) {
    rec.RecordAttempt(FirstSpanName(t));
    return RetryableError(absl::StatusCode::kUnavailable, "later", absl::Seconds(30));
  });
  sender.Start();
  const absl::Time start = absl::Now();
  sender.Submit(MakeTraces("x"), rec.Done("x"));
  Counter* failed = sender.host.registry.GetCounter("otelcol_exporter_send_failed_spans",
                                                    {{"exporter", "otlp/hintcap"}});
  while (failed->value() == 0 && absl::Now() < start + absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_EQ(failed->value(), 1u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // One attempt at once, one when the elapsed-time budget runs out.
  EXPECT_EQ(rec.attempts().size(), 2u);
  sender.Shutdown(absl::Now() + absl::Seconds(5));
}

TEST(ExporterHelperTest, ShutdownDrainsQueueBeforeDeadline) {
  Recorder rec;
  Helper sender("otlp/drain", Queue(1, 100), FastRetry(), [&](const Telemetry& t) {
    absl::SleepFor(absl::Milliseconds(10));
    rec.RecordDelivered(FirstSpanName(t));
    return absl::OkStatus();
  });
  sender.Start();
  for (int i = 0; i < 20; ++i) sender.Submit(MakeTraces(absl::StrCat(i)), rec.Done("x"));
  const absl::Time start = absl::Now();
  sender.Shutdown(start + absl::Seconds(10));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(rec.delivered().size(), 20u);
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_sent_spans", "otlp/drain"), 20u);

  // Stopped: new data is refused with a retryable error.
  sender.Submit(MakeTraces("late"), rec.Done("late"));
  std::vector<Recorder::Done_> done = rec.completions();
  ASSERT_EQ(done.back().name, "late");
  EXPECT_EQ(done.back().status.code(), absl::StatusCode::kUnavailable);
}

TEST(ExporterHelperTest, ShutdownAbortsRetriesAtDeadline) {
  Recorder rec;
  RetrySettings retry = FastRetry();
  retry.initial_interval = absl::Seconds(30);
  retry.max_interval = absl::Seconds(30);
  retry.max_elapsed_time = absl::ZeroDuration();  // forever
  Helper sender("otlp/abort", Queue(1, 100), retry, [&](const Telemetry& t) {
    rec.RecordAttempt(FirstSpanName(t));
    return absl::UnavailableError("down");
  });
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
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_send_failed_spans", "otlp/abort"),
            10u);
  EXPECT_EQ(sender.queue_size(), 0u);
}

TEST(ExporterHelperTest, QueueDisabledCompletesAfterSend) {
  Recorder rec;
  absl::Notification gate;
  Helper sender("otlp/sync", Queue(2, 1000, /*enabled=*/false), FastRetry(),
                [&](const Telemetry& t) {
                  rec.RecordAttempt(FirstSpanName(t));
                  gate.WaitForNotificationWithTimeout(absl::Seconds(10));
                  if (FirstSpanName(t) == "bad")
                    return absl::InvalidArgumentError("rejected upstream");
                  return absl::OkStatus();
                });
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

TEST(ExporterHelperTest, RefusesBeforeStart) {
  Recorder rec;
  Helper sender("otlp/idle", Queue(1, 10), FastRetry(),
                [](const Telemetry&) { return absl::OkStatus(); });
  sender.Submit(MakeTraces("x"), rec.Done("x"));
  ASSERT_EQ(rec.completions().size(), 1u);
  EXPECT_EQ(rec.completions()[0].status.code(), absl::StatusCode::kUnavailable);
  sender.Shutdown(absl::Now());
}

TEST(ExporterHelperTest, RetryDisabledDropsOnFirstFailure) {
  Recorder rec;
  RetrySettings retry = FastRetry();
  retry.enabled = false;
  Helper sender("otlp/noretry", Queue(1, 10), retry, [&](const Telemetry& t) {
    rec.RecordAttempt(FirstSpanName(t));
    return absl::UnavailableError("down");
  });
  sender.Start();
  sender.Submit(MakeTraces("x"), rec.Done("x"));
  Counter* failed = sender.host.registry.GetCounter("otelcol_exporter_send_failed_spans",
                                                    {{"exporter", "otlp/noretry"}});
  for (absl::Time limit = absl::Now() + absl::Seconds(10);
       failed->value() == 0 && absl::Now() < limit;) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(failed->value(), 1u);
  EXPECT_EQ(rec.attempts().size(), 1u);
}

// --- batching on the consuming side of the queue (sending_queue.batch) ---------------

QueueSettings BatchingQueue(int64_t min_size, int64_t max_size, absl::Duration flush_timeout) {
  QueueSettings q = Queue(1, 1000);
  QueueBatchSettings b;
  b.min_size = min_size;
  b.max_size = max_size;
  b.flush_timeout = flush_timeout;
  q.batch = b;
  return q;
}

TEST(ExporterHelperTest, BatchesFormFromWhatIsQueued) {
  Recorder rec;
  absl::Mutex mu;
  std::vector<size_t> sizes;
  absl::Notification gate;
  Helper sender("otlp/batch", BatchingQueue(10, 0, absl::Seconds(30)), FastRetry(),
                [&](const Telemetry& t) {
                  gate.WaitForNotificationWithTimeout(absl::Seconds(10));
                  absl::MutexLock lock(&mu);
                  sizes.push_back(t.ItemCount());
                  return absl::OkStatus();
                });
  sender.Start();
  // Callers are answered as soon as their data is queued.
  for (int i = 0; i < 12; ++i) sender.Submit(MakeTraces(absl::StrCat(i), 2), rec.Done("x"));
  EXPECT_EQ(rec.completions().size(), 12u);
  gate.Notify();
  // Ten spans make a batch at once (min_size), without waiting for flush_timeout...
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::MutexLock lock(&mu);
        return sizes.size() >= 2;
      },
      absl::Seconds(5)));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(sizes[0], 10u);
    EXPECT_EQ(sizes[1], 10u);
  }
  // ...and what is left goes at shutdown, not after the 30s flush_timeout.
  const absl::Time start = absl::Now();
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  absl::MutexLock lock(&mu);
  ASSERT_EQ(sizes.size(), 3u);
  EXPECT_EQ(sizes[2], 4u);
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_sent_spans", "otlp/batch"), 24u);
  EXPECT_NE(sender.host.registry.RenderPrometheus().find(
                "otelcol_exporter_queue_batch_send_size_count{exporter=\"otlp/batch\"} 3"),
            std::string::npos)
      << sender.host.registry.RenderPrometheus();
}

TEST(ExporterHelperTest, FlushTimeoutSendsASmallBatch) {
  std::atomic<int> sends{0};
  Helper sender("otlp/flush", BatchingQueue(1000, 0, absl::Milliseconds(50)), FastRetry(),
                [&](const Telemetry&) {
                  sends.fetch_add(1);
                  return absl::OkStatus();
                });
  sender.Start();
  Recorder rec;
  const absl::Time start = absl::Now();
  sender.Submit(MakeTraces("a", 3), rec.Done("a"));
  sender.Submit(MakeTraces("b", 3), rec.Done("b"));
  ASSERT_TRUE(WaitUntil([&] { return sends.load() == 1; }, absl::Seconds(5)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(45));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(sends.load(), 1);
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_sent_spans", "otlp/flush"), 6u);
}

TEST(ExporterHelperTest, MaxSizeSplitsLargeRequestsAndBoundsBatches) {
  absl::Mutex mu;
  std::vector<size_t> sizes;
  Helper sender("otlp/split", BatchingQueue(4, 5, absl::Milliseconds(20)), FastRetry(),
                [&](const Telemetry& t) {
                  absl::MutexLock lock(&mu);
                  sizes.push_back(t.ItemCount());
                  return absl::OkStatus();
                });
  sender.Start();
  Recorder rec;
  sender.Submit(MakeTraces("big", 12), rec.Done("big"));
  sender.Submit(MakeTraces("a", 3), rec.Done("a"));
  sender.Submit(MakeTraces("b", 3), rec.Done("b"));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  absl::MutexLock lock(&mu);
  // 12 spans go as 5 + 5 + 2; then 3 and 3 do not fit together under 5.
  EXPECT_EQ(sizes, (std::vector<size_t>{5, 5, 2, 3, 3}));
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_sent_spans", "otlp/split"), 18u);
}

TEST(ExporterHelperTest, BatchesKeepClientsMetadataApart) {
  absl::Mutex mu;
  std::vector<std::string> tenants;
  Helper sender("otlp/meta", BatchingQueue(100, 0, absl::Milliseconds(20)), FastRetry(),
                [&](const Telemetry& t) {
                  absl::MutexLock lock(&mu);
                  const std::string* tenant =
                      t.metadata() ? FindMetadata(*t.metadata(), "x-tenant") : nullptr;
                  tenants.push_back(absl::StrCat(tenant ? *tenant : "-", ":", t.ItemCount()));
                  return absl::OkStatus();
                });
  sender.Start();
  auto with_tenant = [](const std::string& tenant, int spans) {
    auto t = std::const_pointer_cast<Telemetry>(MakeTraces(tenant, spans));
    t->set_metadata(std::make_shared<Metadata>(Metadata{{"x-tenant", tenant}}));
    return TelemetryPtr(t);
  };
  Recorder rec;
  sender.Submit(with_tenant("a", 1), rec.Done("1"));
  sender.Submit(with_tenant("a", 2), rec.Done("2"));
  sender.Submit(with_tenant("b", 4), rec.Done("3"));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(tenants, (std::vector<std::string>{"a:3", "b:4"}));
}

// A request that did not fit the batch being formed is sent even when nothing else comes:
// it must not wait behind another consumer that waits for new data.
TEST(ExporterHelperTest, ARequestLeftForTheNextBatchIsSentWhenTheQueueGoesQuiet) {
  Recorder rec;
  QueueSettings q = Queue(2, 100);
  QueueBatchSettings b;
  b.sizer = Sizer::kItems;
  b.min_size = 10;
  b.max_size = 5;
  b.flush_timeout = absl::ZeroDuration();
  q.batch = b;
  Helper sender("otlp/carry", q, FastRetry(), [&](const Telemetry& t) {
    rec.RecordDelivered(FirstSpanName(t));
    return absl::OkStatus();
  });
  sender.Start();
  sender.Submit(MakeTraces("a", 3), rec.Done("a"));
  sender.Submit(MakeTraces("b", 3), rec.Done("b"));
  EXPECT_TRUE(rec.WaitFor([](const Recorder& r) { return r.delivered_n() == 2; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
}

TEST(ExporterHelperTest, WaitForResultAnswersAfterTheSend) {
  QueueSettings q = Queue(1, 10);
  q.wait_for_result = true;
  Helper sender("otlp/wait", q, FastRetry(), [&](const Telemetry& t) {
    return FirstSpanName(t) == "bad" ? absl::InvalidArgumentError("no") : absl::OkStatus();
  });
  sender.Start();
  Recorder rec;
  sender.Submit(MakeTraces("good"), rec.Done("good"));
  sender.Submit(MakeTraces("bad"), rec.Done("bad"));
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.completions_n() == 2; }));
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  for (const auto& c : rec.completions()) {
    EXPECT_EQ(c.status.ok(), c.name == "good") << c.name << " " << c.status;
  }
}

TEST(ExporterHelperTest, BlockOnOverflowWaitsForRoom) {
  QueueSettings q = Queue(1, 1);
  q.block_on_overflow = true;
  absl::Notification gate;
  Helper sender("otlp/block", q, FastRetry(), [&](const Telemetry&) {
    gate.WaitForNotificationWithTimeout(absl::Seconds(10));
    return absl::OkStatus();
  });
  sender.Start();
  Recorder rec;
  sender.Submit(MakeTraces("a"), rec.Done("a"));  // taken by the worker, still counted
  sender.Submit(MakeTraces("b"), rec.Done("b"));  // waits for room instead of refused
  EXPECT_EQ(rec.completions().size(), 1u);
  gate.Notify();
  ASSERT_TRUE(rec.WaitFor([](const Recorder& r) { return r.completions_n() == 2; }));
  EXPECT_TRUE(rec.completions()[1].status.ok()) << rec.completions()[1].status;
  sender.Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(CounterValue(sender.host.registry, "otelcol_exporter_sent_spans", "otlp/block"), 2u);
}

// A sender whose upstream accepts a request partially.
class PartialSender : public RequestSender {
 public:
  SendResult Send(const Telemetry&, SendContext*, absl::Time) override {
    return {absl::OkStatus(), 2, "two spans were too old"};
  }
  void CancelAll() override {}
};

TEST(ExporterHelperTest, PartialSuccessCountsRejectedItemsAsFailed) {
  ::otlpd::testing::TestHost host;
  ExporterHelperSettings settings;
  settings.queue = Queue(1, 10);
  ExporterHelper helper(CreateSettings{{"otlp", "partial"}, &host}, settings,
                        std::make_unique<PartialSender>());
  ASSERT_TRUE(helper.Start().ok());
  Recorder rec;
  helper.Consume(MakeTraces("x", 5), rec.Done("x"));
  helper.Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_spans", "otlp/partial"), 3u);
  EXPECT_EQ(host.Counter("otelcol_exporter_send_failed_spans", "otlp/partial"), 2u);
}

// What fails for good reaches the on_failure hook (edge_sync's dead letters); what is only
// retried does not.
TEST(ExporterHelperTest, FailureHookSeesPermanentFailuresAndPartialRejectionsOnly) {
  ::otlpd::testing::TestHost host;
  ExporterHelperSettings settings;
  settings.queue = Queue(1, 10);
  settings.retry = FastRetry();
  struct Seen {
    std::string name;
    absl::StatusCode code;
    size_t rejected;
    std::string message;
  };
  absl::Mutex mu;
  std::vector<Seen> seen;
  ExporterHelperHooks hooks;
  hooks.on_failure = [&](const Telemetry& data, const absl::Status& why, size_t rejected,
                         const std::string& message) {
    absl::MutexLock lock(&mu);
    seen.push_back({FirstSpanName(data), why.code(), rejected, message});
  };
  std::atomic<int> flaky_attempts{0};
  class ScriptSender : public RequestSender {
   public:
    explicit ScriptSender(std::atomic<int>* flaky) : flaky_(flaky) {}
    SendResult Send(const Telemetry& data, SendContext*, absl::Time) override {
      const std::string name = FirstSpanName(data);
      if (name == "bad") return {absl::InvalidArgumentError("malformed"), 0, ""};
      if (name == "partial") return {absl::OkStatus(), 1, "one too old"};
      if (name == "flaky" && flaky_->fetch_add(1) < 2) {
        return {absl::UnavailableError("down"), 0, ""};
      }
      return {absl::OkStatus(), 0, ""};
    }
    void CancelAll() override {}

   private:
    std::atomic<int>* flaky_;
  };
  ExporterHelper helper(CreateSettings{{"edge_sync", ""}, &host}, settings,
                        std::make_unique<ScriptSender>(&flaky_attempts), std::move(hooks));
  ASSERT_TRUE(helper.Start().ok());
  Recorder rec;
  for (const char* name : {"bad", "flaky", "partial", "good"}) {
    helper.Consume(MakeTraces(name, 3), rec.Done(name));
  }
  ASSERT_TRUE(::otlpd::testing::WaitUntil(
      [&] { return host.Counter("otelcol_exporter_sent_spans", "edge_sync") == 8u; },
      absl::Seconds(10)));
  helper.Shutdown(absl::Now() + absl::Seconds(5));
  absl::MutexLock lock(&mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].name, "bad");
  EXPECT_EQ(seen[0].code, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(seen[0].rejected, 3u);
  EXPECT_EQ(seen[1].name, "partial");
  EXPECT_EQ(seen[1].code, absl::StatusCode::kOk);
  EXPECT_EQ(seen[1].rejected, 1u);
  EXPECT_EQ(seen[1].message, "one too old");
  EXPECT_EQ(flaky_attempts.load(), 3);
}

TEST(ExporterHelperTest, StorageMustBeAStorageExtension) {
  ::otlpd::testing::TestHost host;
  host.extensions[{"health_check", ""}] = std::make_shared<Extension>();
  ExporterHelperSettings settings;
  settings.queue.storage = ComponentId{"health_check", ""};
  ExporterHelper helper(CreateSettings{{"otlp", ""}, &host}, settings,
                        std::make_unique<PartialSender>());
  absl::Status started = helper.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument) << started;
  EXPECT_NE(started.message().find("extension \"health_check\" is not a storage extension"),
            std::string::npos)
      << started;
  settings.queue.storage = ComponentId{"file_storage", ""};
  ExporterHelper missing(CreateSettings{{"otlp", ""}, &host}, settings,
                         std::make_unique<PartialSender>());
  EXPECT_EQ(missing.Start().code(), absl::StatusCode::kNotFound);
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

TEST(ExporterHelperConfigTest, DefaultsMatchOtelcol) {
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

TEST(ExporterHelperConfigTest, ParsesAllKeys) {
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

TEST(ExporterHelperConfigTest, ReportsInvalidValues) {
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
  EXPECT_NE(errors.find("sending_queue::num_consumers: `num_consumers` must be positive"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("sending_queue::queue_size"), std::string::npos) << errors;
  EXPECT_NE(errors.find("sending_queue::bogus: unknown key"), std::string::npos) << errors;
  EXPECT_NE(errors.find("retry_on_failure::max_elapsed_time"), std::string::npos) << errors;
  EXPECT_NE(errors.find("retry_on_failure::multiplier"), std::string::npos) << errors;
  EXPECT_NE(errors.find("retry_on_failure::randomization_factor"), std::string::npos) << errors;
}

TEST(ExporterHelperConfigTest, BatchKeysAsOtelcol) {
  auto p = Parse("sending_queue: {sizer: items, queue_size: 50000, batch: {}}\n");
  ASSERT_TRUE(p->diag.ok()) << p->diag.Format();
  ASSERT_TRUE(p->queue.batch.has_value());
  EXPECT_EQ(p->queue.sizer, Sizer::kItems);
  EXPECT_EQ(p->queue.batch->flush_timeout, absl::Milliseconds(200));
  EXPECT_EQ(p->queue.batch->min_size, 8192);
  EXPECT_EQ(p->queue.batch->max_size, 0);
  EXPECT_EQ(p->queue.batch->sizer, Sizer::kItems);

  p = Parse("sending_queue: {sizer: requests, batch: {}}\n");
  EXPECT_NE(p->diag.Format().find("`batch` supports only `items` or `bytes` sizer"),
            std::string::npos)
      << p->diag.Format();
  p = Parse("sending_queue: {batch: {min_size: 100, max_size: 10, flush_timeout: 0}}\n");
  EXPECT_NE(p->diag.Format().find("`max_size` (10) must be greater or equal to `min_size` (100)"),
            std::string::npos)
      << p->diag.Format();
  EXPECT_NE(p->diag.Format().find("`flush_timeout` must be positive"), std::string::npos)
      << p->diag.Format();
  p = Parse("sending_queue: {sizer: bytes, block_on_overflow: true, wait_for_result: true}\n");
  EXPECT_TRUE(p->diag.ok()) << p->diag.Format();
  EXPECT_EQ(p->queue.sizer, Sizer::kBytes);
  EXPECT_TRUE(p->queue.block_on_overflow);
  EXPECT_TRUE(p->queue.wait_for_result);
}

TEST(ExporterHelperConfigTest, DisabledQueueSkipsSizeValidation) {
  auto p = Parse("sending_queue: {enabled: false, queue_size: 0}\n");
  EXPECT_TRUE(p->diag.ok()) << p->diag.Format();
}

}  // namespace
}  // namespace otlpd
