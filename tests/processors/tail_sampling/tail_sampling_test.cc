// The tail_sampling processor over a real segment log on disk: decisions after
// decision_wait with `th` on what is kept, late spans following the decision, shutdown
// deciding everything, recovery of pending traces by a new instance, the byte cap with 100 k
// traces, a huge trace decided alone, downstream refusals retried, and sum(1/p) of what a rate
// limit keeps estimating the input per service.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "processors/consistent_sampling/threshold.h"
#include "processors/consistent_sampling/tracestate.h"
#include "processors/tail_sampling/tail_sampling_processor.h"
#include "processors/tail_sampling/tail_test_util.h"
#include "testing/temp_dir.h"
#include "testing/test_host.h"
#include "testing/wait.h"

namespace otlpd::tailtest {
namespace {

using otlpd::testing::WaitUntil;

struct Fixture {
  otlpd::testing::TestHost host;
  otlpd::testing::TempDir dir{"tail-sampling"};
  std::shared_ptr<Sink> sink = std::make_shared<Sink>();

  std::unique_ptr<TailSamplingProcessor> Make(const std::string& yaml) {
    Diagnostics diag;
    auto config = ParseTail(absl::StrCat("directory: ", dir.File("buffer"), "\n", yaml), &diag);
    EXPECT_TRUE(diag.ok()) << diag.Format();
    CreateSettings settings;
    settings.id = {"tail_sampling", ""};
    settings.host = &host;
    auto p = NewTailSamplingProcessorFactory()->Create(settings, *config, Signal::kTraces, sink);
    EXPECT_TRUE(p.ok()) << p.status();
    auto* raw = dynamic_cast<TailSamplingProcessor*>(p->release());
    std::unique_ptr<TailSamplingProcessor> proc(raw);
    absl::Status s = proc->Start();
    EXPECT_TRUE(s.ok()) << s;
    return proc;
  }
};

absl::Status Send(Processor& p, const TracesRequest& r) {
  absl::Notification done;
  absl::Status status;
  p.Consume(Wrap(r), [&](absl::Status s) {
    status = std::move(s);
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    return absl::DeadlineExceededError("no completion");
  }
  return status;
}

// The `th` a span carries, as a probability (-1 without one).
double ProbabilityOf(const Span& span) {
  auto ts = consistent_sampling::ParseTraceState(span.trace_state());
  if (!ts.ok() || !ts->ot.threshold) return -1;
  return consistent_sampling::ProbabilityFromThreshold(*ts->ot.threshold);
}

constexpr char kKeepAttr[] = R"(policies:
  - {name: keep, type: string_attribute, string_attribute: {key: keep, values: ["yes"]}}
)";

TEST(TailSamplingTest, DecidesAfterDecisionWaitForwardsKeptSpansWithThAndLateSpansFollow) {
  Fixture f;
  auto p = f.Make(absl::StrCat("decision_wait: 300ms\ndurability: none\n", kKeepAttr));
  TracesRequest first, second;
  for (int i = 0; i < 2; ++i) AddSpan(&first, "a", TraceIdOf(1), i);
  *AddSpan(&second, "b", TraceIdOf(1), 2)->add_attributes() = Str("keep", "yes");
  for (int i = 0; i < 3; ++i) AddSpan(&second, "b", TraceIdOf(2), 10 + i);
  ASSERT_TRUE(Send(*p, first).ok());
  ASSERT_TRUE(Send(*p, second).ok());
  EXPECT_EQ(p->pending_traces(), 2u);
  EXPECT_EQ(f.sink->spans(), 0);  // held for decision_wait
  ASSERT_TRUE(WaitUntil([&] { return p->counters().traces_not_sampled == 1; }, absl::Seconds(10)));
  EXPECT_EQ(p->counters().traces_sampled, 1u);
  auto spans = f.sink->Spans();
  ASSERT_EQ(spans.size(), 3u);
  for (const auto& [service, span] : spans) {
    EXPECT_EQ(span.trace_id(), TraceIdOf(1));
    EXPECT_EQ(span.trace_state(), "ot=th:0");  // kept with probability 1
  }
  EXPECT_EQ(p->pending_traces(), 0u);

  // Late spans: the kept trace's go on at once with its th, the dropped trace's are dropped.
  TracesRequest late;
  AddSpan(&late, "a", TraceIdOf(1), 20)->set_trace_state("vendor=x");
  AddSpan(&late, "a", TraceIdOf(2), 21);
  ASSERT_TRUE(Send(*p, late).ok());
  spans = f.sink->Spans();
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(spans.back().second.trace_state(), "ot=th:0,vendor=x");
  EXPECT_EQ(p->counters().late_spans, 2u);
  EXPECT_EQ(p->pending_traces(), 0u);
  p->Shutdown(absl::Now() + absl::Seconds(5));
}

TEST(TailSamplingTest, ProbabilisticKeepsCarryTheirThreshold) {
  Fixture f;
  auto p = f.Make(R"(decision_wait: 1h
durability: none
policies: [{name: p, type: probabilistic, probabilistic: {sampling_percentage: 10}}]
)");
  TracesRequest r;
  for (int i = 0; i < 2000; ++i) AddSpan(&r, "a", TraceIdOf(100 + i), i);
  ASSERT_TRUE(Send(*p, r).ok());
  p->Shutdown(absl::Now() + absl::Seconds(10));  // decides everything pending
  auto spans = f.sink->Spans();
  EXPECT_NEAR(static_cast<double>(spans.size()), 200, 60);
  const std::string th =
      consistent_sampling::EncodeThreshold(*consistent_sampling::ThresholdFromProbability(0.1));
  for (const auto& [service, span] : spans) {
    EXPECT_EQ(span.trace_state(), "ot=th:" + th);
    EXPECT_TRUE(consistent_sampling::ShouldSample(
        *consistent_sampling::ThresholdFromProbability(0.1),
        consistent_sampling::RandomnessFromTraceId(span.trace_id())));
  }
  EXPECT_EQ(p->counters().traces_sampled + p->counters().traces_not_sampled, 2000u);
}

TEST(TailSamplingTest, ShutdownDecidesEverythingAndARestartFindsNothingToRedo) {
  Fixture f;
  const std::string config = "decision_wait: 1h\npolicies: [{name: a, type: always_sample}]\n";
  {
    auto p = f.Make(config);
    for (int req = 0; req < 10; ++req) {
      TracesRequest r;
      for (int i = 0; i < 30; ++i) AddSpan(&r, "a", TraceIdOf(req * 10 + i % 10), i);
      ASSERT_TRUE(Send(*p, r).ok());
    }
    EXPECT_EQ(p->pending_traces(), 100u);
    EXPECT_EQ(f.sink->spans(), 0);
    p->Shutdown(absl::Now() + absl::Seconds(10));
    EXPECT_EQ(f.sink->spans(), 300);
    EXPECT_EQ(p->pending_traces(), 0u);
  }
  auto again = f.Make(config);
  EXPECT_EQ(again->counters().recovered_traces, 0u);
  EXPECT_EQ(again->pending_traces(), 0u);
  again->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(f.sink->spans(), 300);  // nothing forwarded twice
}

TEST(TailSamplingTest, ANewInstanceRecoversWhatWasPendingAndDecidesIt) {
  Fixture f;
  {
    auto p = f.Make("decision_wait: 1h\npolicies: [{name: a, type: always_sample}]\n");
    for (int req = 0; req < 5; ++req) {
      TracesRequest r;
      for (int i = 0; i < 40; ++i) AddSpan(&r, "a", TraceIdOf(1000 + i), req * 40 + i);
      ASSERT_TRUE(Send(*p, r).ok());
    }
    EXPECT_EQ(p->pending_traces(), 40u);
    // Gone without Shutdown (as after a crash: nothing decided, the log as it was).
  }
  EXPECT_EQ(f.sink->spans(), 0);
  auto p = f.Make("decision_wait: 100ms\npolicies: [{name: a, type: always_sample}]\n");
  EXPECT_EQ(p->counters().recovered_traces, 40u);
  ASSERT_TRUE(WaitUntil([&] { return f.sink->spans() == 200; }, absl::Seconds(10)))
      << f.sink->spans();
  std::map<std::string, int> per_trace;
  for (const auto& [service, span] : f.sink->Spans()) ++per_trace[span.trace_id()];
  EXPECT_EQ(per_trace.size(), 40u);
  for (const auto& [id, n] : per_trace) EXPECT_EQ(n, 5);
  p->Shutdown(absl::Now() + absl::Seconds(5));
}

TEST(TailSamplingTest, HundredThousandTracesStayUnderTheByteCap) {
  Fixture f;
  // Room for all of them: held, under the cap, with a small index per trace.
  auto p = f.Make(R"(decision_wait: 1h
num_traces: 1000000
max_buffer_bytes: 64MiB
durability: none
policies: [{name: a, type: always_sample}]
)");
  constexpr int kTraces = 100000;
  for (int req = 0; req < kTraces / 1000; ++req) {
    TracesRequest r;
    for (int i = 0; i < 1000; ++i) AddSpan(&r, "svc", TraceIdOf(req * 1000 + i), i);
    ASSERT_TRUE(Send(*p, r).ok());
  }
  EXPECT_EQ(p->pending_traces(), static_cast<size_t>(kTraces));
  EXPECT_LE(p->peak_held_bytes(), uint64_t{64} << 20);
  EXPECT_EQ(p->counters().decided_early, 0u);
  std::printf("100k traces: held %llu bytes, index %llu bytes (%.0f per trace)\n",
              static_cast<unsigned long long>(p->held_bytes()),
              static_cast<unsigned long long>(p->index_bytes()),
              static_cast<double>(p->index_bytes()) / kTraces);
  p.reset();

  // A cap that holds a fraction: the oldest are decided early (counted), nothing is lost, the
  // cap holds throughout; senders are refused retryably only while early decisions run.
  Fixture g;
  auto q = g.Make(R"(decision_wait: 1h
num_traces: 1000000
max_buffer_bytes: 4MiB
durability: none
policies: [{name: a, type: always_sample}]
)");
  int refused = 0;
  for (int req = 0; req < kTraces / 1000; ++req) {
    TracesRequest r;
    for (int i = 0; i < 1000; ++i) AddSpan(&r, "svc", TraceIdOf(req * 1000 + i), i);
    absl::Status s;
    while ((s = Send(*q, r)).code() == absl::StatusCode::kResourceExhausted) {
      ++refused;
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_TRUE(s.ok()) << s;
  }
  EXPECT_LE(q->peak_held_bytes(), uint64_t{4} << 20);
  EXPECT_GT(q->counters().decided_early, 50000u);
  ASSERT_TRUE(
      WaitUntil([&] { return g.sink->spans() + q->pending_spans() == kTraces; }, absl::Seconds(20)))
      << g.sink->spans() << " + " << q->pending_spans();
  EXPECT_EQ(g.host.registry
                .GetCounter("otelcol_processor_tail_sampling_early_decisions",
                            {{"processor", "tail_sampling"}})
                ->value(),
            q->counters().decided_early);
  std::printf("4 MiB cap: %llu decided early, %d refusals\n",
              static_cast<unsigned long long>(q->counters().decided_early), refused);
  q->Shutdown(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(g.sink->spans(), kTraces);
}

TEST(TailSamplingTest, AHugeTraceIsDecidedAloneAndPushesNoOtherOut) {
  Fixture f;
  auto p = f.Make(R"(decision_wait: 1h
max_buffer_bytes: 1MiB
maximum_trace_size_bytes: 64KiB
durability: none
policies: [{name: a, type: always_sample}]
)");
  TracesRequest small;
  for (int i = 0; i < 100; ++i) AddSpan(&small, "small", TraceIdOf(i), i);
  ASSERT_TRUE(Send(*p, small).ok());
  // 400 KiB of one trace, in 40 requests.
  const std::string huge_id = TraceIdOf(99999);
  for (int req = 0; req < 40; ++req) {
    TracesRequest r;
    for (int i = 0; i < 10; ++i) {
      *AddSpan(&r, "huge", huge_id, req * 10 + i)->add_attributes() =
          Str("blob", std::string(1000, 'x'));
    }
    ASSERT_TRUE(Send(*p, r).ok());
  }
  ASSERT_TRUE(WaitUntil([&] { return f.sink->spans() == 400; }, absl::Seconds(10)))
      << f.sink->spans();
  EXPECT_EQ(p->counters().decided_early, 1u);
  // Spans of the huge trace that come after its decision follow it.
  TracesRequest late;
  for (int i = 0; i < 10; ++i) AddSpan(&late, "huge", huge_id, 1000 + i);
  ASSERT_TRUE(Send(*p, late).ok());
  ASSERT_TRUE(WaitUntil([&] { return f.sink->spans() == 410; }, absl::Seconds(10)))
      << f.sink->spans();
  EXPECT_GE(p->counters().late_spans, 10u);
  EXPECT_EQ(p->pending_traces(), 100u);  // every small trace still waits
  for (const auto& [service, span] : f.sink->Spans()) EXPECT_EQ(service, "huge");
  p->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(f.sink->spans(), 510);
}

TEST(TailSamplingTest, KeptTracesDownstreamRefusesAreRetried) {
  Fixture f;
  f.sink->set_status(absl::UnavailableError("down"));
  auto p =
      f.Make("decision_wait: 50ms\ndurability: none\npolicies: [{name: a, type: always_sample}]\n");
  TracesRequest r;
  for (int i = 0; i < 10; ++i) AddSpan(&r, "a", TraceIdOf(i), i);
  ASSERT_TRUE(Send(*p, r).ok());
  ASSERT_TRUE(WaitUntil([&] { return p->counters().forward_failures > 0; }, absl::Seconds(10)));
  EXPECT_EQ(p->pending_traces(), 10u);
  f.sink->set_status(absl::OkStatus());
  ASSERT_TRUE(WaitUntil([&] { return f.sink->spans() == 10; }, absl::Seconds(10)));
  ASSERT_TRUE(WaitUntil([&] { return p->pending_traces() == 0; }, absl::Seconds(5)));
  p->Shutdown(absl::Now() + absl::Seconds(5));
}

// The limit must bite: well under the rate the loop below offers, which is 50 k spans/s where
// sending keeps pace, but about 12 k spans/s under ThreadSanitizer's slowdown.
#if defined(__SANITIZE_THREAD__)
constexpr int kRateLimitSpansPerSecond = 5000;
#else
constexpr int kRateLimitSpansPerSecond = 15000;
#endif

TEST(TailSamplingTest, SumOfInverseProbabilitiesUnderARateLimitEstimatesEachService) {
  Fixture f;
  auto p = f.Make(absl::StrCat(R"(decision_wait: 100ms
durability: none
policies: [{name: r, type: rate_limiting, rate_limiting: {spans_per_second: )",
                               kRateLimitSpansPerSecond, "}}]\n"));
  // Up to 50 k spans/s for ~3 s from three services (50/30/20 %), one span a trace (the
  // estimate's spread shrinks with the number of traces kept).
  std::map<std::string, int64_t> sent;
  const char* services[] = {"a", "a", "a", "a", "a", "b", "b", "b", "c", "c"};
  uint64_t trace = 0;
  absl::Time start = absl::Now();
  for (int req = 0; req < 150; ++req) {
    TracesRequest r;
    for (int i = 0; i < 1000; ++i) {
      ++trace;
      const std::string service = services[trace % 10];
      AddSpan(&r, service, TraceIdOf(trace), i);
      ++sent[service];
    }
    ASSERT_TRUE(Send(*p, r).ok());
    absl::Time next = start + absl::Milliseconds(20) * (req + 1);
    if (absl::Now() < next) absl::SleepFor(next - absl::Now());
  }
  // Decided in the rounds of the running processor, not in one last burst at shutdown.
  ASSERT_TRUE(WaitUntil([&] { return p->pending_traces() == 0; }, absl::Seconds(30)));
  p->Shutdown(absl::Now() + absl::Seconds(10));
  std::map<std::string, double> estimate;
  int64_t kept = 0;
  for (const auto& [service, span] : f.sink->Spans()) {
    double prob = ProbabilityOf(span);
    ASSERT_GT(prob, 0) << span.trace_state();
    estimate[service] += 1.0 / prob;
    ++kept;
  }
  int64_t total = 0;
  for (const auto& [service, n] : sent) total += n;
  EXPECT_LT(kept, total * 3 / 4);  // the limit did bite
  for (const auto& [service, n] : sent) {
    std::printf("%s: sent %lld, estimated %.0f\n", service.c_str(), static_cast<long long>(n),
                estimate[service]);
    EXPECT_NEAR(estimate[service] / static_cast<double>(n), 1.0, 0.02) << service;
  }
}

}  // namespace
}  // namespace otlpd::tailtest
