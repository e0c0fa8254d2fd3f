// The tail_sampling policies one by one and combined (and, drop, not, composite), on traces
// built in memory, and the config errors the factory reports for them.
#include "processors/tail_sampling/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "processors/consistent_sampling/threshold.h"
#include "processors/tail_sampling/tail_test_util.h"

namespace otlpd::tailtest {
namespace {

using tail::Decision;
using tail::TraceView;
using tail::Verdict;
using ::testing::HasSubstr;

// A trace of `spans` spans; `edit` changes each span.
struct TestTrace {
  TracesRequest request;
  TraceView view;
  TestTrace(uint64_t n, int spans, const std::function<void(Span*, int)>& edit = nullptr,
            const std::string& service = "svc") {
    for (int i = 0; i < spans; ++i) {
      Span* s = AddSpan(&request, service, TraceIdOf(n), i);
      if (edit) edit(s, i);
    }
    view.trace_id = TraceIdOf(n);
    view.parts = {&request};
    view.spans = spans;
    view.bytes = static_cast<int64_t>(request.ByteSizeLong());
    view.randomness = consistent_sampling::RandomnessFromTraceId(view.trace_id);
  }
};

std::unique_ptr<tail::Policy> Build(const std::string& yaml) {
  Diagnostics diag;
  auto config = ParseTail("policies:\n" + yaml, &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  EXPECT_EQ(config->policies.size(), 1u);
  auto policy = tail::BuildPolicy(config->policies.at(0));
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

Verdict One(tail::Policy& p, const TestTrace& t, absl::Time now = absl::Now()) {
  std::vector<const TraceView*> batch{&t.view};
  std::vector<Verdict> out;
  p.Evaluate(batch, now, &out);
  return out.at(0);
}

TEST(TailPolicyTest, AlwaysSampleLatencyStatusSpanCount) {
  EXPECT_EQ(One(*Build("  - {name: a, type: always_sample}"), TestTrace(1, 1)).decision,
            Decision::kSampled);

  auto latency =
      Build("  - {name: l, type: latency, latency: {threshold_ms: 5, upper_threshold_ms: 10}}");
  auto with_duration = [](int ms) {
    return TestTrace(2, 2, [ms](Span* s, int i) {
      s->set_start_time_unix_nano(1'000'000'000 + i * 1'000'000);
      s->set_end_time_unix_nano(1'000'000'000 + static_cast<uint64_t>(ms) * 1'000'000);
    });
  };
  EXPECT_EQ(One(*latency, with_duration(4)).decision, Decision::kNotSampled);
  EXPECT_EQ(One(*latency, with_duration(5)).decision, Decision::kSampled);
  EXPECT_EQ(One(*latency, with_duration(10)).decision, Decision::kSampled);
  EXPECT_EQ(One(*latency, with_duration(11)).decision, Decision::kNotSampled);

  auto status = Build("  - {name: s, type: status_code, status_code: {status_codes: [ERROR]}}");
  EXPECT_EQ(One(*status, TestTrace(3, 3)).decision, Decision::kNotSampled);
  EXPECT_EQ(
      One(*status, TestTrace(3, 3,
                             [](Span* s, int i) {
                               if (i == 2)
                                 s->mutable_status()->set_code(
                                     opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
                             }))
          .decision,
      Decision::kSampled);

  auto count = Build("  - {name: c, type: span_count, span_count: {min_spans: 2, max_spans: 3}}");
  EXPECT_EQ(One(*count, TestTrace(4, 1)).decision, Decision::kNotSampled);
  EXPECT_EQ(One(*count, TestTrace(4, 2)).decision, Decision::kSampled);
  EXPECT_EQ(One(*count, TestTrace(4, 3)).decision, Decision::kSampled);
  EXPECT_EQ(One(*count, TestTrace(4, 4)).decision, Decision::kNotSampled);
}

TEST(TailPolicyTest, AttributePoliciesCheckResourceAndSpansAndInvert) {
  auto str = Build(
      "  - {name: s, type: string_attribute, string_attribute: {key: http.route, values: [/pay, "
      "/cart]}}");
  auto with = [](const KeyValue& kv) {
    return TestTrace(5, 2, [kv](Span* s, int i) {
      if (i == 1) *s->add_attributes() = kv;
    });
  };
  EXPECT_EQ(One(*str, with(Str("http.route", "/pay"))).decision, Decision::kSampled);
  EXPECT_EQ(One(*str, with(Str("http.route", "/pays"))).decision, Decision::kNotSampled);
  EXPECT_EQ(One(*str, with(Int("http.route", 1))).decision, Decision::kNotSampled);
  // Resource attributes count too.
  auto svc = Build(
      "  - {name: s, type: string_attribute, string_attribute: {key: service.name, values: "
      "[svc]}}");
  EXPECT_EQ(One(*svc, TestTrace(6, 1)).decision, Decision::kSampled);

  auto regex = Build(
      "  - {name: r, type: string_attribute, string_attribute: {key: http.route, values: "
      "['^/pa'], enabled_regex_matching: true, cache_max_size: 10}}");
  EXPECT_EQ(One(*regex, with(Str("http.route", "/pays"))).decision, Decision::kSampled);
  EXPECT_EQ(One(*regex, with(Str("http.route", "/cart"))).decision, Decision::kNotSampled);

  auto inverted = Build(
      "  - {name: i, type: string_attribute, string_attribute: {key: http.route, values: [/pay], "
      "invert_match: true}}");
  EXPECT_EQ(One(*inverted, with(Str("http.route", "/pay"))).decision, Decision::kInvertNotSampled);
  EXPECT_EQ(One(*inverted, with(Str("http.route", "/x"))).decision, Decision::kInvertSampled);

  auto num = Build(
      "  - {name: n, type: numeric_attribute, numeric_attribute: {key: code, min_value: 500, "
      "max_value: 599}}");
  EXPECT_EQ(One(*num, with(Int("code", 499))).decision, Decision::kNotSampled);
  EXPECT_EQ(One(*num, with(Int("code", 500))).decision, Decision::kSampled);
  EXPECT_EQ(One(*num, with(Int("code", 599))).decision, Decision::kSampled);
  EXPECT_EQ(One(*num, with(Int("code", 600))).decision, Decision::kNotSampled);
  auto min_only = Build(
      "  - {name: n, type: numeric_attribute, numeric_attribute: {key: code, min_value: 10}}");
  EXPECT_EQ(One(*min_only, with(Int("code", 1'000'000))).decision, Decision::kSampled);

  auto boolean =
      Build("  - {name: b, type: boolean_attribute, boolean_attribute: {key: force, value: true}}");
  EXPECT_EQ(One(*boolean, with(Bool("force", true))).decision, Decision::kSampled);
  EXPECT_EQ(One(*boolean, with(Bool("force", false))).decision, Decision::kNotSampled);
  EXPECT_EQ(One(*boolean, with(Str("force", "true"))).decision, Decision::kNotSampled);

  auto ts = Build("  - {name: t, type: trace_state, trace_state: {key: vendor, values: [a, b]}}");
  auto with_ts = [](const std::string& text) {
    return TestTrace(7, 1, [text](Span* s, int) { s->set_trace_state(text); });
  };
  EXPECT_EQ(One(*ts, with_ts("x=1,vendor=b")).decision, Decision::kSampled);
  EXPECT_EQ(One(*ts, with_ts("vendor=c")).decision, Decision::kNotSampled);
  EXPECT_EQ(One(*ts, with_ts("")).decision, Decision::kNotSampled);
}

TEST(TailPolicyTest, ProbabilisticIsConsistentAndCarriesItsProbability) {
  auto p = Build("  - {name: p, type: probabilistic, probabilistic: {sampling_percentage: 25}}");
  int kept = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    TestTrace t(1000 + i, 1);
    Verdict v = One(*p, t);
    EXPECT_NEAR(v.probability, 0.25, 1e-4);
    if (v.decision == Decision::kSampled) {
      ++kept;
      // Consistent: kept exactly when the randomness reaches the threshold.
      EXPECT_TRUE(consistent_sampling::ShouldSample(
          *consistent_sampling::ThresholdFromProbability(0.25), t.view.randomness));
    }
  }
  EXPECT_NEAR(kept, n / 4, 4 * std::sqrt(n * 0.25 * 0.75));
  auto none = Build("  - {name: p, type: probabilistic, probabilistic: {sampling_percentage: 0}}");
  EXPECT_EQ(One(*none, TestTrace(9, 1)).decision, Decision::kNotSampled);
}

TEST(TailPolicyTest, RateLimitingKeepsARandomShareThatFitsAndSaysWhichShare) {
  auto rl = Build("  - {name: r, type: rate_limiting, rate_limiting: {spans_per_second: 100}}");
  std::vector<std::unique_ptr<TestTrace>> traces;
  std::vector<const TraceView*> batch;
  for (int i = 0; i < 100; ++i) {
    traces.push_back(std::make_unique<TestTrace>(i, 4));  // 400 spans
    batch.push_back(&traces.back()->view);
  }
  absl::Time t0 = absl::FromUnixSeconds(1000);
  std::vector<Verdict> out;
  rl->Evaluate(batch, t0, &out);
  int kept = 0;
  for (const Verdict& v : out) {
    if (v.decision == Decision::kSampled) kept += 4;
    EXPECT_DOUBLE_EQ(v.probability, 100.0 / 400.0);
  }
  EXPECT_EQ(kept, 100);
  // The bucket is empty now; half a second later it holds 50 spans.
  rl->Evaluate(batch, t0 + absl::Milliseconds(500), &out);
  kept = 0;
  for (const Verdict& v : out) kept += v.decision == Decision::kSampled ? 4 : 0;
  EXPECT_EQ(kept, 48);
  EXPECT_DOUBLE_EQ(out[0].probability, 48.0 / 400.0);
  // Below the limit everything is kept with probability 1.
  rl->Evaluate(std::span(batch).subspan(0, 5), t0 + absl::Seconds(5), &out);
  for (const Verdict& v : out) {
    EXPECT_EQ(v.decision, Decision::kSampled);
    EXPECT_EQ(v.probability, 1.0);
  }

  auto bytes = Build(
      "  - {name: b, type: bytes_limiting, bytes_limiting: {bytes_per_second: 1000, "
      "burst_capacity: 3000}}");
  bytes->Evaluate(batch, t0, &out);
  int64_t kept_bytes = 0, all_bytes = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    all_bytes += batch[i]->bytes;
    if (out[i].decision == Decision::kSampled) kept_bytes += batch[i]->bytes;
  }
  EXPECT_LE(kept_bytes, 3000);
  EXPECT_GT(kept_bytes, 3000 - batch[0]->bytes * 2);
  EXPECT_NEAR(out[0].probability, static_cast<double>(kept_bytes) / all_bytes, 1e-12);
}

TEST(TailPolicyTest, AndDropNotComposite) {
  auto both = Build(R"(  - name: and
    type: and
    and:
      and_sub_policy:
        - {name: a, type: string_attribute, string_attribute: {key: k, values: [v]}}
        - {name: b, type: probabilistic, probabilistic: {sampling_percentage: 100}}
)");
  auto with_k = [](uint64_t n, const std::string& v) {
    return TestTrace(n, 1, [v](Span* s, int) { *s->add_attributes() = Str("k", v); });
  };
  EXPECT_EQ(One(*both, with_k(1, "v")).decision, Decision::kSampled);
  EXPECT_EQ(One(*both, with_k(1, "w")).decision, Decision::kNotSampled);

  auto drop = Build(R"(  - name: drop
    type: drop
    drop:
      drop_sub_policy:
        - {name: health, type: string_attribute, string_attribute: {key: k, values: ['^/health'], enabled_regex_matching: true}}
)");
  EXPECT_EQ(One(*drop, with_k(2, "/healthz")).decision, Decision::kDropped);
  EXPECT_EQ(One(*drop, with_k(2, "/pay")).decision, Decision::kNotSampled);
  // A drop wins over a sample.
  EXPECT_EQ(tail::Combine(std::vector<Verdict>{{Decision::kSampled, 1}, {Decision::kDropped, 1}})
                .decision,
            Decision::kNotSampled);
  EXPECT_EQ(
      tail::Combine(std::vector<Verdict>{{Decision::kSampled, 0.5}, {Decision::kSampled, 0.25}})
          .probability,
      0.5);
  EXPECT_EQ(tail::Combine(std::vector<Verdict>{{Decision::kInvertSampled, 1},
                                               {Decision::kInvertNotSampled, 1}})
                .decision,
            Decision::kNotSampled);
  EXPECT_EQ(tail::Combine(std::vector<Verdict>{{Decision::kNotSampled, 1}}).decision,
            Decision::kNotSampled);

  auto negated = Build(R"(  - name: not
    type: not
    not:
      not_sub_policy:
        - {name: a, type: string_attribute, string_attribute: {key: k, values: [v]}}
)");
  EXPECT_EQ(One(*negated, with_k(3, "v")).decision, Decision::kNotSampled);
  EXPECT_EQ(One(*negated, with_k(3, "w")).decision, Decision::kSampled);

  // Composite: 50 % of 100 spans/s to errors-like traces (k=v), the rest to everything.
  auto composite = Build(R"(  - name: comp
    type: composite
    composite:
      max_total_spans_per_second: 100
      policy_order: [first, rest]
      composite_sub_policy:
        - {name: first, type: string_attribute, string_attribute: {key: k, values: [v]}}
        - {name: rest, type: always_sample}
      rate_allocation:
        - {policy: first, percent: 50}
        - {policy: rest, percent: 50}
)");
  std::vector<std::unique_ptr<TestTrace>> traces;
  std::vector<const TraceView*> batch;
  for (int i = 0; i < 200; ++i) {
    traces.push_back(std::make_unique<TestTrace>(
        100 + i, 1, [i](Span* s, int) { *s->add_attributes() = Str("k", i < 100 ? "v" : "w"); }));
    batch.push_back(&traces.back()->view);
  }
  std::vector<Verdict> out;
  composite->Evaluate(batch, absl::FromUnixSeconds(5), &out);
  int first = 0, rest = 0;
  for (int i = 0; i < 200; ++i) {
    if (out[i].decision != Decision::kSampled) continue;
    (i < 100 ? first : rest)++;
  }
  // 50 of the k=v traces by the first sub-policy; the second keeps 50 more among what is left
  // (the other k=v traces and the k=w ones).
  EXPECT_EQ(first + rest, 100);
  EXPECT_GE(first, 50);
  for (int i = 100; i < 200; ++i) {
    if (out[i].decision == Decision::kSampled) {
      EXPECT_NEAR(out[i].probability, 50.0 / 150, 1e-9);
    }
  }
}

TEST(TailPolicyTest, ConfigErrorsNameTheKey) {
  auto errors = [](const std::string& yaml) {
    Diagnostics diag;
    ParseTail(yaml, &diag);
    return diag.Format();
  };
  EXPECT_THAT(errors("decision_wait: 1s\n"), HasSubstr("policies"));
  EXPECT_THAT(errors("policies: [{name: a, type: nope}]\n"), HasSubstr("type"));
  EXPECT_THAT(errors("policies: [{type: always_sample}]\n"), HasSubstr("name"));
  EXPECT_THAT(
      errors("policies: [{name: a, type: always_sample}, {name: a, type: always_sample}]\n"),
      HasSubstr("duplicate policy name"));
  EXPECT_THAT(errors("policies: [{name: a, type: rate_limiting, rate_limiting: {}}]\n"),
              HasSubstr("spans_per_second"));
  EXPECT_THAT(errors("policies: [{name: a, type: probabilistic, probabilistic: "
                     "{sampling_percentage: 150}}]\n"),
              HasSubstr("sampling_percentage"));
  EXPECT_THAT(errors("policies: [{name: a, type: status_code, status_code: {status_codes: "
                     "[BAD]}}]\n"),
              HasSubstr("BAD"));
  EXPECT_THAT(errors("policies: [{name: a, type: string_attribute, string_attribute: {key: k, "
                     "values: ['('], enabled_regex_matching: true}}]\n"),
              HasSubstr("bad regex"));
  EXPECT_THAT(errors("policies: [{name: a, type: always_sample, extra: 1}]\n"), HasSubstr("extra"));
  EXPECT_THAT(errors("decision_wait: 0s\npolicies: [{name: a, type: always_sample}]\n"),
              HasSubstr("decision_wait"));
  EXPECT_THAT(errors("max_buffer_bytes: 100\npolicies: [{name: a, type: always_sample}]\n"),
              HasSubstr("max_buffer_bytes"));
  EXPECT_THAT(
      errors(R"(policies:
  - name: c
    type: composite
    composite:
      max_total_spans_per_second: 10
      policy_order: [x]
      composite_sub_policy: [{name: a, type: always_sample}]
      rate_allocation: [{policy: a, percent: 120}]
)"),
      testing::AllOf(HasSubstr("\"x\" is not a composite_sub_policy"), HasSubstr("percent")));
  // A valid config with every key.
  EXPECT_EQ(errors(R"(decision_wait: 10s
num_traces: 100
expected_new_traces_per_sec: 10
decision_cache: {sampled_cache_size: 1000, non_sampled_cache_size: 1000}
sample_on_first_match: true
maximum_trace_size_bytes: 1MiB
drop_pending_traces_on_shutdown: false
directory: /tmp/x
max_buffer_bytes: 64MiB
durability: batch
policies: [{name: a, type: always_sample}]
)"),
            "");
}

}  // namespace
}  // namespace otlpd::tailtest
