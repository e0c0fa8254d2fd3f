// Thresholds, randomness and downstream stages against the examples of the OpenTelemetry
// specification ("TraceState: Probability Sampling", "TraceState Handling").
#include "processors/consistent_sampling/threshold.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace otlpd::consistent_sampling {
namespace {

std::string Th(double probability, int precision) {
  absl::StatusOr<uint64_t> threshold = ThresholdFromProbability(probability, precision);
  EXPECT_TRUE(threshold.ok()) << probability << " " << threshold.status();
  return threshold.ok() ? EncodeThreshold(*threshold) : "";
}

// The specification's table of 1-in-N probabilities at precision 3, 4 and 5.
TEST(ThresholdTest, SpecificationTable) {
  struct Row {
    double probability;
    const char* th3;
    const char* th4;
    const char* th5;
  };
  const Row rows[] = {
      {1, "0", "0", "0"},
      {0.5, "8", "8", "8"},
      {1.0 / 3, "aab", "aaab", "aaaab"},
      {0.25, "c", "c", "c"},
      {0.2, "ccd", "cccd", "ccccd"},
      {0.125, "e", "e", "e"},
      {0.1, "e66", "e666", "e6666"},
      {0.0625, "f", "f", "f"},
      {0.01, "fd71", "fd70a", "fd70a4"},
      {0.001, "ffbe7", "ffbe77", "ffbe76d"},
      {0.0001, "fff972", "fff9724", "fff97247"},
      {0.00001, "ffff584", "ffff583a", "ffff583a5"},
      {0.000001, "ffffef4", "ffffef39", "ffffef391"},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(Th(row.probability, 3), row.th3) << row.probability;
    EXPECT_EQ(Th(row.probability, 4), row.th4) << row.probability;
    EXPECT_EQ(Th(row.probability, 5), row.th5) << row.probability;
  }
  // And the table's "actual probability" column for 1-in-3 at precision 4.
  EXPECT_DOUBLE_EQ(ProbabilityFromThreshold(*ThresholdFromProbability(1.0 / 3, 4)),
                   0.3333282470703125);
}

TEST(ThresholdTest, PrecisionIsClampedAndCappedAtTwelveDigits) {
  // 1 - 1/3 has infinitely many hex digits: precision 12 keeps 12 of them, and more is 12.
  EXPECT_EQ(Th(1.0 / 3, 12), "aaaaaaaaaaab");
  EXPECT_EQ(Th(1.0 / 3, 14), "aaaaaaaaaaab");
  EXPECT_EQ(Th(1.0 / 3, 0), "b");  // below 1 is 1
  EXPECT_EQ(Th(1.0 / 3, 1), "b");
  EXPECT_EQ(Th(1.0 / 3, 2), "ab");
  // The smallest probability: 2 - 2^-56 rounds to 2.0 in a double; all f's are kept.
  EXPECT_EQ(Th(kMinProbability, 4), "ffffffffffff");
  // Just below 1: four digits keep a little rejection, or round it away to none ("0", where
  // the specification's Python would strip "0000" to an empty string).
  EXPECT_EQ(Th(0.99999, 4), "0001");
  EXPECT_EQ(Th(0.999999, 4), "0");
  EXPECT_EQ(Th(0.99999, 12), "0000a7c5ac47");
}

TEST(ThresholdTest, RefusesProbabilitiesOutsideTheRange) {
  for (double bad :
       {0.0, -0.5, 1.0000001, kMinProbability / 2, std::numeric_limits<double>::quiet_NaN(),
        std::numeric_limits<double>::infinity()}) {
    EXPECT_FALSE(ThresholdFromProbability(bad, 4).ok()) << bad;
  }
  EXPECT_TRUE(ThresholdFromProbability(kMinProbability, 4).ok());
}

TEST(ThresholdTest, EncodesWithTrailingZerosRemovedAndLeadingZerosKept) {
  EXPECT_EQ(EncodeThreshold(0), "0");
  EXPECT_EQ(EncodeThreshold(uint64_t{0x80} << 48), "8");
  EXPECT_EQ(EncodeThreshold(uint64_t{0xc0} << 48), "c");
  EXPECT_EQ(EncodeThreshold(0x0fd70a3d70a3d7), "0fd70a3d70a3d7");
  EXPECT_EQ(EncodeThreshold(0x00000000000010), "0000000000001");
  EXPECT_EQ(EncodeThreshold(kNeverSampleThreshold - 1), "ffffffffffffff");
}

TEST(ThresholdTest, ParsesOneToFourteenHexDigits) {
  EXPECT_EQ(ParseThreshold("0"), 0u);
  EXPECT_EQ(ParseThreshold("8"), uint64_t{0x80000000000000});
  EXPECT_EQ(ParseThreshold("C"), uint64_t{0xc0000000000000});
  EXPECT_EQ(ParseThreshold("fd70a4"), uint64_t{0xfd70a400000000});
  EXPECT_EQ(ParseThreshold("ffffffffffffff"), kNeverSampleThreshold - 1);
  EXPECT_EQ(ParseThreshold(""), std::nullopt);
  EXPECT_EQ(ParseThreshold("fffffffffffffff"), std::nullopt);  // 15 digits
  EXPECT_EQ(ParseThreshold("g"), std::nullopt);
  EXPECT_EQ(ParseThreshold("-1"), std::nullopt);
  EXPECT_EQ(ParseThreshold("0x8"), std::nullopt);
  for (uint64_t t : {uint64_t{0}, uint64_t{1}, uint64_t{0x123456789abcde}, uint64_t{0xfff00}}) {
    EXPECT_EQ(ParseThreshold(EncodeThreshold(t)), t) << t;
  }
}

TEST(ThresholdTest, RandomnessIsFourteenHexDigitsOrTheTraceIdsLastSevenBytes) {
  EXPECT_EQ(ParseRandomness("9b8233f7e3a151"), uint64_t{0x9b8233f7e3a151});
  EXPECT_EQ(ParseRandomness("9b8233f7e3a15"), std::nullopt);
  EXPECT_EQ(ParseRandomness("9b8233f7e3a1511"), std::nullopt);
  EXPECT_EQ(ParseRandomness("9b8233f7e3a15z"), std::nullopt);
  std::string out;
  AppendRandomness(0x00000000000001, &out);
  EXPECT_EQ(out, "00000000000001");

  const std::string trace_id("\x01\x02\x03\x04\x05\x06\x07\x08\x09\xa1\xb2\xc3\xd4\xe5\xf6\x07",
                             16);
  EXPECT_EQ(RandomnessFromTraceId(trace_id), uint64_t{0xa1b2c3d4e5f607});
  EXPECT_FALSE(IsInvalidTraceId(trace_id));
  EXPECT_TRUE(IsInvalidTraceId(std::string(16, '\0')));
  EXPECT_TRUE(IsInvalidTraceId("short"));
}

TEST(ThresholdTest, KeepsWhenRandomnessIsAtLeastTheThreshold) {
  const uint64_t half = *ParseThreshold("8");
  EXPECT_TRUE(ShouldSample(half, half));
  EXPECT_FALSE(ShouldSample(half, half - 1));
  EXPECT_TRUE(ShouldSample(kAlwaysSampleThreshold, 0));
  EXPECT_FALSE(ShouldSample(kNeverSampleThreshold, kNeverSampleThreshold - 1));
  // The example of otelcol's README: rv 9b8233f7e3a151 passes 50 %.
  EXPECT_TRUE(ShouldSample(half, *ParseRandomness("9b8233f7e3a151")));
}

TEST(ThresholdTest, ProbabilityAndAdjustedCount) {
  EXPECT_EQ(ProbabilityFromThreshold(0), 1.0);
  EXPECT_EQ(ProbabilityFromThreshold(*ParseThreshold("c")), 0.25);
  EXPECT_EQ(AdjustedCount(*ParseThreshold("c")), 4.0);
  EXPECT_EQ(AdjustedCount(*ParseThreshold("f")), 16.0);
  EXPECT_EQ(ProbabilityFromThreshold(kNeverSampleThreshold), 0.0);
  EXPECT_EQ(AdjustedCount(kNeverSampleThreshold), 0.0);
}

TEST(StageTest, EqualizingNeverLowersAnArrivingThreshold) {
  const Stage stage = Stage::Equalizing(0.25);
  EXPECT_EQ(stage.Outgoing(std::nullopt), *ParseThreshold("c"));
  // Arriving at 50 %: raised to 25 %.
  EXPECT_EQ(stage.Outgoing(*ParseThreshold("8")), *ParseThreshold("c"));
  // Arriving at 1/16 (T_s > T_d): unchanged.
  EXPECT_EQ(stage.Outgoing(*ParseThreshold("f")), *ParseThreshold("f"));
}

TEST(StageTest, ProportionalMultipliesTheArrivingProbability) {
  const Stage stage = Stage::Proportional(0.5);
  EXPECT_EQ(stage.Outgoing(std::nullopt), *ParseThreshold("8"));
  EXPECT_EQ(stage.Outgoing(*ParseThreshold("8")), *ParseThreshold("c"));  // 1/2 * 1/2
  EXPECT_EQ(stage.Outgoing(*ParseThreshold("c")), *ParseThreshold("e"));  // 1/4 * 1/2
  EXPECT_EQ(stage.Outgoing(*ParseThreshold("0")), *ParseThreshold("8"));
  // Rounded to 4 digits ("aaaa"), the product would fall below an arriving 14-digit
  // threshold: that one is kept instead.
  const Stage one = Stage::Proportional(1.0);
  const uint64_t arriving = 0xaaaa00000000ff;
  EXPECT_EQ(*ThresholdFromProbability(ProbabilityFromThreshold(arriving), 4), 0xaaaa0000000000u);
  EXPECT_EQ(one.Outgoing(arriving), arriving);
  // A product below 2^-56 is never sampled.
  EXPECT_EQ(Stage::Proportional(1e-10).Outgoing(*ParseThreshold("ffffffffff")),
            kNeverSampleThreshold);
}

TEST(StageTest, ProbabilitiesOutsideTheRangeAreClamped) {
  EXPECT_EQ(Stage::Equalizing(0).threshold(), kNeverSampleThreshold);
  EXPECT_EQ(Stage::Proportional(0).Outgoing(0), kNeverSampleThreshold);
  EXPECT_EQ(Stage::Equalizing(-3).threshold(), kNeverSampleThreshold);
  EXPECT_EQ(Stage::Equalizing(std::nan("")).threshold(), kNeverSampleThreshold);
  EXPECT_EQ(Stage::Equalizing(1.5).threshold(), kAlwaysSampleThreshold);
  EXPECT_EQ(Stage::Proportional(1.5).Outgoing(*ParseThreshold("8")), *ParseThreshold("8"));
  EXPECT_EQ(Stage::Equalizing(1e-30).threshold(), *ThresholdFromProbability(kMinProbability));
  const Stage fixed = Stage::WithThreshold(*ParseThreshold("e"));
  EXPECT_EQ(fixed.Outgoing(std::nullopt), *ParseThreshold("e"));
  EXPECT_EQ(fixed.Outgoing(*ParseThreshold("f")), *ParseThreshold("f"));
  EXPECT_EQ(fixed.probability(), 0.125);
}

}  // namespace
}  // namespace otlpd::consistent_sampling
