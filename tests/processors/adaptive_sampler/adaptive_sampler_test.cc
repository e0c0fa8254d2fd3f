// adaptive_sampler: the controller driven by a simulated clock and synthetic arrivals (each
// arrival a random trace id decided by the key's consistent sampler), the processor on real
// requests with the same simulated clock, its ratio-per-key self-metric, and its config.
#include "processors/adaptive_sampler/adaptive_sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "processors/adaptive_sampler/factory.h"
#include "processors/sampling_wire/sampling_test_util.h"

namespace otlpd::samplingtest {
namespace {

namespace cs = consistent_sampling;
using ::testing::HasSubstr;

constexpr int64_t kSecond = 1'000'000'000;

// Offers `rates[k]` spans/s of key `key` during simulated second k (adjusting every second,
// checked every 10 ms) and returns the spans kept in each second.
std::vector<double> Simulate(AdaptiveController& controller, const std::vector<double>& rates,
                             const std::string& key_name, std::mt19937_64& rng, int64_t* now) {
  std::vector<double> kept_per_second;
  auto key = controller.Find(key_name);
  for (double rate : rates) {
    int64_t kept = 0;
    const int per_tick = static_cast<int>(rate / 100);
    for (int tick = 0; tick < 100; ++tick) {
      controller.MaybeAdjust(*now);
      const cs::Stage stage = key->stage();
      key->Count(static_cast<uint64_t>(per_tick));
      for (int i = 0; i < per_tick; ++i) {
        kept += cs::ShouldSample(stage.Outgoing(std::nullopt), rng() >> 8);
      }
      *now += kSecond / 100;
    }
    kept_per_second.push_back(static_cast<double>(kept));
  }
  return kept_per_second;
}

AdaptiveController::Options FiveThousandPerSecond() {
  AdaptiveController::Options o;
  o.goal_per_second = 5000;
  o.interval_ns = kSecond;
  o.smoothing = 0.5;
  o.min_probability = 1e-4;
  o.max_probability = 1;
  o.initial_probability = 1;
  return o;
}

TEST(AdaptiveControllerTest, ConvergesToTheGoalFromTenFiftyAndTwoHundredThousand) {
  for (double offered : {10'000.0, 50'000.0, 200'000.0}) {
    int64_t now = 0;
    AdaptiveController controller(FiveThousandPerSecond(), now);
    std::mt19937_64 rng(static_cast<uint64_t>(offered));
    const std::vector<double> out =
        Simulate(controller, std::vector<double>(12, offered), "svc", rng, &now);
    // The first second passes everything (initial 100 %); from the third interval on the
    // output is within ±10 % of the goal, and in steady state (after 6) within ±5 %.
    EXPECT_NEAR(out[0], offered, offered * 0.01);
    for (size_t k = 3; k < out.size(); ++k) {
      EXPECT_NEAR(out[k], 5000, 500) << offered << " second " << k;
      if (k >= 6) {
        EXPECT_NEAR(out[k], 5000, 250) << offered << " second " << k;
      }
    }
    EXPECT_NEAR(controller.Find("svc")->probability(), 5000 / offered, 1e-9);
  }
}

TEST(AdaptiveControllerTest, FollowsAStepChangeThroughTheSmoothedRate) {
  int64_t now = 0;
  AdaptiveController controller(FiveThousandPerSecond(), now);
  std::mt19937_64 rng(5);
  std::vector<double> rates(6, 10'000.0);
  rates.resize(16, 200'000.0);  // seconds 6..15: twenty times the input
  const std::vector<double> out = Simulate(controller, rates, "svc", rng, &now);
  // The EWMA (weight 0.5) lags: over the goal right after the step, back within ±10 % five
  // intervals later and within ±5 % after eight.
  EXPECT_GT(out[6], 5000 * 1.5);
  for (size_t k = 11; k < out.size(); ++k) EXPECT_NEAR(out[k], 5000, 500) << k;
  for (size_t k = 14; k < out.size(); ++k) EXPECT_NEAR(out[k], 5000, 250) << k;
}

TEST(AdaptiveControllerTest, PerKeyGoalsAndKeysPastTheLimitShareOne) {
  AdaptiveController::Options o = FiveThousandPerSecond();
  o.max_keys = 2;
  o.min_probability = 0.01;
  o.max_probability = 0.5;
  int64_t now = 0;
  AdaptiveController controller(o, now);
  auto a = controller.Find("a");
  auto b = controller.Find("b");
  auto c = controller.Find("c");
  auto d = controller.Find("d");
  EXPECT_EQ(c->name(), AdaptiveController::kOverflowKey);
  EXPECT_EQ(c, d);                   // shared, and still counted
  EXPECT_EQ(a->probability(), 0.5);  // initial 1, clamped to max
  a->Count(20'000);
  b->Count(1'000'000);
  c->Count(3'000);
  d->Count(3'000);
  EXPECT_FALSE(controller.MaybeAdjust(kSecond - 1));
  EXPECT_TRUE(controller.MaybeAdjust(kSecond));
  EXPECT_DOUBLE_EQ(a->probability(), 0.25);
  EXPECT_DOUBLE_EQ(b->probability(), 0.01);  // 0.005 clamped to min
  EXPECT_DOUBLE_EQ(c->probability(), 0.5);   // 6000/s: 0.83 clamped to max
  EXPECT_EQ(controller.Keys().size(), 3u);
  // No arrivals in the next interval: the smoothed rate halves.
  EXPECT_TRUE(controller.MaybeAdjust(2 * kSecond));
  EXPECT_DOUBLE_EQ(a->probability(), 0.5);  // 10000/s smoothed: 0.5
}

const ProcessorFactory& Factory() {
  static const auto* factory = NewAdaptiveSamplerFactory().release();
  return *factory;
}

TEST(AdaptiveSamplerConfigTest, KeysAndErrors) {
  EXPECT_EQ(ConfigErrors(Factory(), "goal_spans_per_second: 5000"), "");
  EXPECT_EQ(ConfigErrors(Factory(), R"(
goal_traces_per_second: 100
key_attribute: deployment.environment
max_keys: 10
adjustment_interval: 2s
smoothing: 0.3
min_sampling_percentage: 0.1
max_sampling_percentage: 50
initial_sampling_percentage: 10
sampling_precision: 5
fail_closed: false)"),
            "");
  EXPECT_THAT(ConfigErrors(Factory(), "{}"), HasSubstr("give one of"));
  EXPECT_THAT(ConfigErrors(Factory(), "{goal_spans_per_second: 1, goal_traces_per_second: 1}"),
              HasSubstr("give one of"));
  EXPECT_THAT(ConfigErrors(Factory(), "goal_spans_per_second: 0"), HasSubstr("greater than zero"));
  EXPECT_THAT(ConfigErrors(Factory(), "{goal_spans_per_second: 1, smoothing: 0}"),
              HasSubstr("(0, 1]"));
  EXPECT_THAT(ConfigErrors(Factory(), "{goal_spans_per_second: 1, max_keys: 0}"),
              HasSubstr("at least 1"));
  EXPECT_THAT(ConfigErrors(Factory(), "{goal_spans_per_second: 1, adjustment_interval: 0s}"),
              HasSubstr("greater than zero"));
  EXPECT_THAT(ConfigErrors(Factory(),
                           "{goal_spans_per_second: 1, min_sampling_percentage: 60, "
                           "max_sampling_percentage: 50}"),
              HasSubstr("greater than"));
  EXPECT_THAT(ConfigErrors(Factory(), "{goal_spans_per_second: 1, max_sampling_percentage: 120}"),
              HasSubstr("(0, 100]"));
}

// The processor on real requests with a simulated clock: 50 k spans/s of two services held
// at 5 k/s each, th on every kept span, Σ 1/p per service within ±2 % of the input, and the
// ratio per key as a self-metric.
TEST(AdaptiveSamplerTest, HoldsEachServiceAtTheGoalOnRealRequests) {
  testing::TestHost host;
  auto sink = std::make_shared<Sink>();
  AdaptiveSamplerConfig config;
  config.goal_spans_per_second = 5000;
  config.adjustment_interval = absl::Seconds(1);
  int64_t now = 0;
  CreateSettings settings{ComponentId{"adaptive_sampler", ""}, &host};
  AdaptiveSampler sampler(settings, config, sink, [&now] { return now; });
  std::mt19937_64 rng(12);
  std::map<std::string, Estimate> estimates;
  constexpr int kSeconds = 8;
  constexpr int kRequestsPerSecond = 100;
  constexpr int kSpansPerService = 250;  // per request: 25 k spans/s per service
  for (int second = 0; second < kSeconds; ++second) {
    std::map<std::string, Estimate> this_second;
    for (int r = 0; r < kRequestsPerSecond; ++r) {
      const size_t before = sink->received.size();
      absl::Status status = absl::UnknownError("not completed");
      sampler.Consume(ToTelemetry(Signal::kTraces, MakeSpans(rng, {"a", "b"}, kSpansPerService)),
                      [&status](absl::Status s) { status = s; });
      ASSERT_TRUE(status.ok()) << status;
      if (sink->received.size() > before) {
        AddEstimates(sink->received.back()->traces(), &this_second);
        AddEstimates(sink->received.back()->traces(), &estimates);
      }
      now += kSecond / kRequestsPerSecond;
    }
    for (const std::string service : {"a", "b"}) {
      const Estimate& e = this_second[service];
      EXPECT_EQ(e.without_th, 0);
      if (second == 0) {
        EXPECT_EQ(e.kept, kRequestsPerSecond * kSpansPerService);  // initial 100 %
      } else if (second >= 3) {
        EXPECT_NEAR(e.kept, 5000, 500) << service << " second " << second;
      }
    }
  }
  const double input = kSeconds * kRequestsPerSecond * kSpansPerService;
  for (const std::string service : {"a", "b"}) {
    EXPECT_NEAR(estimates[service].weighted / input, 1.0, 0.02) << service;
  }
  // The ratio per key, as rendered for Prometheus.
  const std::string text = host.registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("otlpd_processor_adaptive_sampler_ratio{"));
  EXPECT_THAT(text, HasSubstr("key=\"a\""));
  EXPECT_THAT(text, HasSubstr("key=\"b\""));
  EXPECT_NEAR(sampler.controller().Find("a")->probability(), 0.2, 1e-9);
}

// Traces per second: a trace is counted by its root span; children follow their trace's
// decision (same trace id, same probability).
TEST(AdaptiveSamplerTest, TracesPerSecondCountsRootsAndKeepsTracesWhole) {
  testing::TestHost host;
  auto sink = std::make_shared<Sink>();
  AdaptiveSamplerConfig config;
  config.goal_traces_per_second = 500;
  config.key_attribute = "";
  config.adjustment_interval = absl::Seconds(1);
  int64_t now = 0;
  CreateSettings settings{ComponentId{"adaptive_sampler", "traces"}, &host};
  AdaptiveSampler sampler(settings, config, sink, [&now] { return now; });
  std::mt19937_64 rng(13);
  for (int second = 0; second < 4; ++second) {
    int64_t roots_kept = 0;
    for (int r = 0; r < 10; ++r) {
      // 1000 traces of 3 spans (a root and two children) per request: 10 k traces/s.
      TracesRequest request = MakeSpans(rng, {"x", "y"}, 1500);
      for (auto& rs : *request.mutable_resource_spans()) {
        auto* spans = rs.mutable_scope_spans(0)->mutable_spans();
        for (int i = 0; i < spans->size(); ++i) {
          if (i % 3 != 0) {
            spans->Mutable(i)->set_trace_id(spans->Get(i - i % 3).trace_id());
            spans->Mutable(i)->set_parent_span_id(spans->Get(i - i % 3).span_id());
          }
        }
      }
      const size_t before = sink->received.size();
      sampler.Consume(ToTelemetry(Signal::kTraces, request), [](absl::Status) {});
      if (sink->received.size() > before) {
        std::map<std::string, int> spans_per_trace;
        for (const auto& rs : sink->received.back()->traces().resource_spans()) {
          for (const Span& s : rs.scope_spans(0).spans()) {
            ++spans_per_trace[s.trace_id()];
            roots_kept += s.parent_span_id().empty();
          }
        }
        for (const auto& [id, n] : spans_per_trace) ASSERT_EQ(n, 3);
      }
      now += kSecond / 10;
    }
    if (second >= 2) {
      EXPECT_NEAR(roots_kept, 500, 100) << second;
    }
  }
  EXPECT_NEAR(sampler.controller().Find("")->probability(), 0.05, 1e-9);
}

}  // namespace
}  // namespace otlpd::samplingtest
