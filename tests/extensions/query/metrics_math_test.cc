// The rate and quantile math behind /api/v1/metrics.

#include "extensions/query/metrics_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace otlpd::query {
namespace {

constexpr int64_t kSec = 1000000000;

TEST(StepBucketTest, FloorsToMultiplesOfTheStep) {
  EXPECT_EQ(StepBucket(0, 10), 0);
  EXPECT_EQ(StepBucket(9, 10), 0);
  EXPECT_EQ(StepBucket(10, 10), 10);
  EXPECT_EQ(StepBucket(-1, 10), -10);
  EXPECT_EQ(StepBucket(-10, 10), -10);
}

TEST(QuantileTest, LinearInterpolationWithinExplicitBuckets) {
  // (-inf,10]: 0, (10,20]: 10, (20,30]: 10, (30,+inf): 0.
  const std::vector<Range> r =
      ExplicitRanges({10, 20, 30}, {0, 10, 10, 0}, std::nullopt, std::nullopt);
  EXPECT_DOUBLE_EQ(*Quantile(0.25, r), 15);
  EXPECT_DOUBLE_EQ(*Quantile(0.5, r), 20);
  EXPECT_DOUBLE_EQ(*Quantile(0.75, r), 25);
  EXPECT_DOUBLE_EQ(*Quantile(0.99, r), 29.8);
  EXPECT_DOUBLE_EQ(*Quantile(1, r), 30);
  EXPECT_DOUBLE_EQ(*Quantile(0, r), 10);  // lower edge of the first non-empty bucket
}

TEST(QuantileTest, OpenEndsAsPrometheusClosesThem) {
  // First bucket with a positive bound spans [0, bound].
  EXPECT_DOUBLE_EQ(*Quantile(0.5, ExplicitRanges({5}, {4, 0}, std::nullopt, std::nullopt)), 2.5);
  // First bucket with a bound ≤ 0 is the bound itself.
  EXPECT_DOUBLE_EQ(*Quantile(0.5, ExplicitRanges({-1}, {3, 0}, std::nullopt, std::nullopt)), -1);
  // The overflow bucket is its lower bound...
  EXPECT_DOUBLE_EQ(*Quantile(0.5, ExplicitRanges({5}, {0, 4}, std::nullopt, std::nullopt)), 5);
  // ...unless max is known: then it spans [bound, max].
  EXPECT_DOUBLE_EQ(*Quantile(0.5, ExplicitRanges({5}, {0, 4}, std::nullopt, 9.0)), 7);
  // min narrows the first bucket.
  EXPECT_DOUBLE_EQ(*Quantile(0.5, ExplicitRanges({10}, {4, 0}, 6.0, 10.0)), 8);
  // No bounds: the single bucket is [min, max], or the fallback (the mean).
  EXPECT_DOUBLE_EQ(*Quantile(0.5, ExplicitRanges({}, {4}, 2.0, 4.0)), 3);
  EXPECT_DOUBLE_EQ(*Quantile(0.9, ExplicitRanges({}, {4}, std::nullopt, std::nullopt, 7)), 7);
}

TEST(QuantileTest, EmptyHasNoQuantile) {
  EXPECT_FALSE(Quantile(0.5, {}).has_value());
  EXPECT_FALSE(
      Quantile(0.5, ExplicitRanges({1, 2}, {0, 0, 0}, std::nullopt, std::nullopt)).has_value());
}

TEST(QuantileTest, MergesEqualRangesAndMixesOverlappingOnes) {
  EXPECT_DOUBLE_EQ(*Quantile(0.5, {{0, 10, 5}, {0, 10, 5}, {10, 20, 10}}), 10);
  // [0,10]×10 and [0,20]×10: CDF(x) = x + x/2 on [0,10]; the median (10) is at x = 20/3.
  EXPECT_NEAR(*Quantile(0.5, {{0, 10, 10}, {0, 20, 10}}), 20.0 / 3, 1e-9);
  // A point mass.
  EXPECT_DOUBLE_EQ(*Quantile(0.5, {{3, 3, 1}}), 3);
}

TEST(RateTest, CumulativeCounterWithReset) {
  const int64_t step = 10 * kSec;
  // start 0 (unknown); a reset at 30 s reports its new start (25 s).
  const std::vector<CounterSample> s = {{10 * kSec, 0, 100},
                                        {20 * kSec, 0, 200},
                                        {30 * kSec, 25 * kSec, 50},
                                        {40 * kSec, 25 * kSec, 150}};
  const std::vector<StepValue> r = RatePerStep(s, true, step, 0, 40 * kSec, 0);
  ASSERT_EQ(r.size(), 3u);  // the first sample is only the baseline
  EXPECT_EQ(r[0].bucket_ns, 20 * kSec);
  EXPECT_DOUBLE_EQ(r[0].value, 10);  // +100 in 10 s
  EXPECT_EQ(r[1].bucket_ns, 30 * kSec);
  EXPECT_DOUBLE_EQ(r[1].value, 10);  // reset: 50 since its start 5 s before
  EXPECT_DOUBLE_EQ(r[2].value, 10);
}

TEST(RateTest, ResetWithoutStartTimeUsesTheInterval) {
  const std::vector<CounterSample> s = {{10 * kSec, 0, 100}, {20 * kSec, 0, 30}};
  const std::vector<StepValue> r = RatePerStep(s, true, 10 * kSec, 0, 20 * kSec, 0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_DOUBLE_EQ(r[0].value, 3);
}

TEST(RateTest, CounterStartedInTheWindowCountsFromZero) {
  const std::vector<CounterSample> s = {{10 * kSec, 5 * kSec, 100}, {20 * kSec, 5 * kSec, 200}};
  const std::vector<StepValue> r = RatePerStep(s, true, 10 * kSec, 0, 20 * kSec, 0);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_DOUBLE_EQ(r[0].value, 20);  // 100 in the 5 s since its start
  EXPECT_DOUBLE_EQ(r[1].value, 10);
  // Started before the window: a baseline only.
  EXPECT_EQ(RatePerStep(s, true, 10 * kSec, 0, 20 * kSec, 6 * kSec).size(), 1u);
}

TEST(RateTest, SeveralSamplesPerStepAverage) {
  std::vector<CounterSample> s;
  for (int i = 0; i <= 8; ++i) s.push_back({i * 15 * kSec, 0, 30.0 * i + (i >= 5 ? 60 : 0)});
  // Steps of 60 s: [0,60) holds +30×3 over 45 s... and the jump lands in [60,120).
  const std::vector<StepValue> r = RatePerStep(s, true, 60 * kSec, 0, 120 * kSec, 1);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_DOUBLE_EQ(r[0].value, 2);                  // 90 over 45 s
  EXPECT_DOUBLE_EQ(r[1].value, (120.0 + 60) / 60);  // 4×30 + 60 over 60 s
  EXPECT_EQ(r[2].bucket_ns, 120 * kSec);
}

TEST(RateTest, DeltaSums) {
  const std::vector<CounterSample> s = {
      {15 * kSec, 0, 30}, {30 * kSec, 15 * kSec, 45}, {45 * kSec, 0, 15}};
  const std::vector<StepValue> r = RatePerStep(s, false, 60 * kSec, 0, 60 * kSec, 0);
  ASSERT_EQ(r.size(), 1u);
  // A lone first sample without start counts over one step: (30 + 45 + 15) / (60 + 15 + 15).
  EXPECT_DOUBLE_EQ(r[0].value, 90.0 / 90);
}

TEST(RateTest, BucketsOutsideTheWindowAreLeftOut) {
  const std::vector<CounterSample> s = {{5 * kSec, 0, 0}, {15 * kSec, 0, 10}, {25 * kSec, 0, 20}};
  const std::vector<StepValue> r = RatePerStep(s, true, 10 * kSec, 20 * kSec, 30 * kSec, 0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].bucket_ns, 20 * kSec);
  EXPECT_DOUBLE_EQ(r[0].value, 1);
}

TEST(LastPerStepTest, KeepsTheLastValueOfEachBucket) {
  const std::vector<CounterSample> s = {{1 * kSec, 0, 1}, {9 * kSec, 0, 2}, {12 * kSec, 0, 3}};
  const std::vector<StepValue> r = LastPerStep(s, 10 * kSec, 0, 20 * kSec);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (StepValue{0, 2}));
  EXPECT_EQ(r[1], (StepValue{10 * kSec, 3}));
}

TEST(ExpoHistogramTest, RangesAndQuantile) {
  // Scale 0: base 2. Positive (1,2]:1, (2,4]:2; negative [-2,-1):1; zero: 1.
  const ExpoHistogram h = ExpoHistogram::FromBuckets(0, 1, 0, 0, {1, 2}, 0, {1});
  const std::vector<Range> r = ExpoRanges(h);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_DOUBLE_EQ(r[0].lower, -2);
  EXPECT_DOUBLE_EQ(r[0].upper, -1);
  EXPECT_DOUBLE_EQ(r[1].lower, 0);
  EXPECT_DOUBLE_EQ(r[2].lower, 1);
  EXPECT_DOUBLE_EQ(r[2].upper, 2);
  EXPECT_DOUBLE_EQ(r[3].upper, 4);
  EXPECT_DOUBLE_EQ(h.Total(), 5);
  // rank 2.5 of 5: past -2..-1 (1) and zero (1) → half into (1,2].
  EXPECT_DOUBLE_EQ(*Quantile(0.5, r), 1.5);
  EXPECT_DOUBLE_EQ(*Quantile(0.9, r), 2 + 2 * 0.75);
  // Scale 1: base √2, bucket 1 is (√2, 2].
  const std::vector<Range> fine = ExpoRanges(ExpoHistogram::FromBuckets(1, 0, 0, 1, {1}, 0, {}));
  EXPECT_DOUBLE_EQ(fine[0].lower, std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(fine[0].upper, 2);
  // max narrows the last bucket.
  EXPECT_DOUBLE_EQ(*Quantile(1, ExpoRanges(h, std::nullopt, 3.0)), 3);
}

TEST(ExpoHistogramTest, DownscaleMergesBuckets) {
  ExpoHistogram h = ExpoHistogram::FromBuckets(2, 0, 0, -2, {1, 1, 1, 1, 1, 1}, 0, {});
  h.Downscale(1);  // indexes -2..3 → -1,-1,0,0,1,1
  EXPECT_EQ(h.scale, 1);
  EXPECT_EQ(h.positive, (std::map<int32_t, double>{{-1, 2}, {0, 2}, {1, 2}}));
}

TEST(ExpoHistogramTest, SubtractAtTheCoarserScaleAndDetectResets) {
  const ExpoHistogram a = ExpoHistogram::FromBuckets(1, 2, 0, 0, {3, 3}, 0, {});
  const ExpoHistogram b = ExpoHistogram::FromBuckets(0, 1, 0, 0, {2}, 0, {});
  std::optional<ExpoHistogram> d = Subtract(a, b);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->scale, 0);
  EXPECT_DOUBLE_EQ(d->zero_count, 1);
  EXPECT_EQ(d->positive, (std::map<int32_t, double>{{0, 4}}));
  EXPECT_FALSE(Subtract(b, a).has_value());
  ExpoHistogram sum = b;
  sum.Add(a);
  EXPECT_DOUBLE_EQ(sum.Total(), 1 + 2 + 2 + 6);
}

HistogramSample Explicit(int64_t t, int64_t start, std::vector<double> counts, double sum) {
  HistogramSample s;
  s.time_ns = t;
  s.start_ns = start;
  s.bounds = {10, 20};
  for (double c : counts) s.count += c;
  s.bucket_counts = std::move(counts);
  s.sum = sum;
  return s;
}

TEST(HistogramPerStepTest, CumulativeIncreasesPerStep) {
  const std::vector<HistogramSample> s = {
      Explicit(10 * kSec, kSec, {0, 10, 0}, 150),     // baseline (started before the window)
      Explicit(20 * kSec, kSec, {0, 10, 10}, 400),    // +10 in (20, +inf) → point 20
      Explicit(30 * kSec, kSec, {5, 20, 10}, 600),    // +5 in [0,10], +10 in (10,20]
      Explicit(40 * kSec, 35 * kSec, {0, 0, 2}, 50),  // reset: 2 new
  };
  const std::vector<HistogramStep> r =
      HistogramPerStep(s, true, 10 * kSec, 10 * kSec, 40 * kSec, 5 * kSec);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].bucket_ns, 20 * kSec);
  EXPECT_DOUBLE_EQ(r[0].count, 10);
  EXPECT_DOUBLE_EQ(r[0].sum, 250);
  EXPECT_DOUBLE_EQ(*Quantile(0.5, r[0].ranges), 20);
  EXPECT_DOUBLE_EQ(r[1].count, 15);
  EXPECT_DOUBLE_EQ(*Quantile(0.5, r[1].ranges), 10 + 10 * (7.5 - 5) / 10);
  EXPECT_DOUBLE_EQ(r[2].count, 2);
  EXPECT_DOUBLE_EQ(r[2].sum, 50);
}

TEST(HistogramPerStepTest, DeltaSamplesMergeWithinAStep) {
  HistogramSample a = Explicit(5 * kSec, 0, {0, 4, 0}, 60);
  HistogramSample b = Explicit(8 * kSec, 5 * kSec, {0, 0, 4}, 100);
  b.max = 30;
  const std::vector<HistogramStep> r = HistogramPerStep({a, b}, false, 10 * kSec, 0, 10 * kSec, 0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_DOUBLE_EQ(r[0].count, 8);
  EXPECT_DOUBLE_EQ(r[0].sum, 160);
  EXPECT_DOUBLE_EQ(*Quantile(0.75, r[0].ranges), 25);  // (20, max 30] holds the top half
}

TEST(HistogramPerStepTest, ExponentialCumulative) {
  HistogramSample a;
  a.time_ns = 10 * kSec;
  a.start_ns = kSec;
  a.expo = ExpoHistogram::FromBuckets(0, 0, 0, 0, {1}, 0, {});
  a.count = 1;
  HistogramSample b = a;
  b.time_ns = 20 * kSec;
  b.expo = ExpoHistogram::FromBuckets(0, 0, 0, 0, {1, 4}, 0, {});
  b.count = 5;
  const std::vector<HistogramStep> r =
      HistogramPerStep({a, b}, true, 10 * kSec, 0, 20 * kSec, 5 * kSec);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_DOUBLE_EQ(r[0].count, 4);
  EXPECT_DOUBLE_EQ(*Quantile(0.5, r[0].ranges), 3);  // all 4 in (2,4]
}

}  // namespace
}  // namespace otlpd::query
