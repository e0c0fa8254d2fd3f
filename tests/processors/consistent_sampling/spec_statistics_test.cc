// The library against an independent, deliberately plain rendering of the specification's
// algorithm (strings and printf's hexadecimal floats, as the specification's Python does):
// over 10^6 random trace ids and 20 probabilities every keep decision and every written `th`
// must be identical; and the kept counts must sit within binomial bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "processors/consistent_sampling/threshold.h"
#include "processors/consistent_sampling/tracestate.h"

namespace otlpd::consistent_sampling {
namespace {

// --- The specification, transcribed ------------------------------------------------------

// probability_to_threshold_with_precision, on the text of float.hex().
std::string SpecThresholdText(double probability, int precision) {
  if (probability == 1) return "0";
  int exp = 0;
  std::frexp(probability, &exp);
  // Python's exp // -4 (floor division).
  const int extra = static_cast<int>(std::floor(static_cast<double>(exp) / -4.0));
  precision = std::max(1, std::min(12, precision + extra));
  double rejection = 2 - probability;
  rejection += std::ldexp(0.5, -4 * precision);
  std::string digits;
  if (rejection >= 2.0) {
    digits = "fffffffffffff";
  } else {
    char text[64];
    std::snprintf(text, sizeof text, "%a", rejection);  // "0x1.<hex digits>p+0"
    std::string s(text);
    const size_t dot = s.find('.');
    const size_t p = s.find('p');
    digits = dot == std::string::npos ? "" : s.substr(dot + 1, p - dot - 1);
    digits.resize(13, '0');  // printf drops trailing zeros that float.hex() keeps
  }
  std::string kept = digits.substr(0, static_cast<size_t>(precision));
  while (!kept.empty() && kept.back() == '0') kept.pop_back();
  return kept.empty() ? "0" : kept;  // the threshold 0 is written "0"
}

// A `th` value's 56-bit threshold: extend with zeros to 14 digits, parse as hex.
uint64_t SpecThresholdValue(const std::string& th) {
  std::string padded = th;
  padded.resize(14, '0');
  return std::stoull(padded, nullptr, 16);
}

// The W3C level 2 randomness: the rightmost 7 bytes of the trace id, i.e. its last 14 hex
// digits.
uint64_t SpecRandomness(const std::string& trace_id) {
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : trace_id) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return std::stoull(hex.substr(18), nullptr, 16);
}

double SpecProbability(uint64_t threshold) {
  const double max = 72057594037927936.0;  // 2^56
  return (max - static_cast<double>(threshold)) / max;
}

// --------------------------------------------------------------------------------------------

const std::vector<double>& Probabilities() {
  static const std::vector<double> p = {1.0,    0.9,  0.75,  0.6666, 0.5,  1.0 / 3, 0.3,
                                        0.25,   0.2,  0.125, 0.1,    0.07, 0.05,    1.0 / 30,
                                        0.0625, 0.01, 0.005, 0.001,  1e-4, 1e-5};
  return p;
}

std::string RandomTraceId(std::mt19937_64& rng) {
  std::string id(16, '\0');
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (int i = 0; i < 8; ++i)
      id[static_cast<size_t>(half * 8 + i)] = static_cast<char>(v >> (8 * i));
  }
  return id;
}

TEST(SpecStatisticsTest, MillionTraceIdsTwentyProbabilitiesBitForBit) {
  ASSERT_EQ(Probabilities().size(), 20u);
  constexpr int kIds = 1'000'000;
  constexpr int kPrecision = 4;
  std::mt19937_64 rng(20261201);
  std::vector<std::string> ids(kIds);
  std::vector<uint64_t> spec_randomness(kIds);
  for (int i = 0; i < kIds; ++i) {
    ids[i] = RandomTraceId(rng);
    spec_randomness[i] = SpecRandomness(ids[i]);
  }
  std::string out;
  for (double p : Probabilities()) {
    const std::string spec_th = SpecThresholdText(p, kPrecision);
    const uint64_t spec_t = SpecThresholdValue(spec_th);
    const std::string spec_tracestate = "ot=th:" + spec_th;
    const Stage stage = Stage::Proportional(p, kPrecision);
    ASSERT_EQ(stage.threshold(), spec_t) << p;
    int64_t kept = 0;
    int64_t mismatches = 0;
    for (int i = 0; i < kIds; ++i) {
      const Decision d = Decide(stage, ids[i], "", &out);
      const bool spec_keep = spec_randomness[i] >= spec_t;
      if (d.keep != spec_keep || d.randomness != spec_randomness[i] ||
          (spec_keep && (!d.tracestate_changed || out != spec_tracestate))) {
        if (++mismatches <= 3) {
          ADD_FAILURE() << "p=" << p << " id#" << i << " keep " << d.keep << " vs " << spec_keep
                        << ", tracestate \"" << out << "\" vs \"" << spec_tracestate << "\"";
        }
      }
      kept += d.keep;
    }
    EXPECT_EQ(mismatches, 0) << p;
    // Binomial bounds: within 5 standard deviations of n·p for the threshold's probability.
    const double q = SpecProbability(spec_t);
    const double mean = kIds * q;
    const double sigma = std::sqrt(kIds * q * (1 - q));
    EXPECT_NEAR(static_cast<double>(kept), mean, std::max(5 * sigma, 0.5))
        << "p=" << p << " th=" << spec_th;
  }
}

// Downstream stages on items that arrive with a threshold: the proportional product
// T_o = P2T(p · T2P(T_s)) and the equalizing max(T_s, T_d), against the same transcription.
TEST(SpecStatisticsTest, ArrivingThresholdsProportionalAndEqualizingBitForBit) {
  constexpr int kIds = 50'000;
  constexpr int kPrecision = 4;
  const std::vector<std::string> arriving = {"0", "8", "c", "e", "aaab", "fd70a", "e666"};
  std::mt19937_64 rng(7);
  std::string out;
  int64_t checked = 0;
  for (double p : Probabilities()) {
    const Stage proportional = Stage::Proportional(p, kPrecision);
    const Stage equalizing = Stage::Equalizing(p, kPrecision);
    const uint64_t t_d = SpecThresholdValue(SpecThresholdText(p, kPrecision));
    for (int i = 0; i < kIds; ++i) {
      const std::string id = RandomTraceId(rng);
      const uint64_t r = SpecRandomness(id);
      const std::string& th_s = arriving[static_cast<size_t>(i) % arriving.size()];
      const uint64_t t_s = SpecThresholdValue(th_s);
      if (r < t_s) continue;  // could not have arrived: a different test's business
      const std::string tracestate = "ot=th:" + th_s;
      // Proportional.
      const double product = p * SpecProbability(t_s);
      uint64_t t_o = std::numeric_limits<uint64_t>::max();
      std::string th_o;
      if (product >= std::ldexp(1.0, -56)) {
        th_o = SpecThresholdText(product, kPrecision);
        t_o = SpecThresholdValue(th_o);
        if (t_o < t_s) {  // a downstream stage cannot lower a threshold
          t_o = t_s;
          th_o = th_s;
        }
      }
      Decision d = Decide(proportional, id, tracestate, &out);
      const bool keep = r >= t_o;
      ASSERT_EQ(d.keep, keep) << p << " " << th_s;
      if (keep) {
        ASSERT_EQ(d.threshold, t_o) << p << " " << th_s;
        ASSERT_EQ(d.tracestate_changed ? out : tracestate, "ot=th:" + th_o) << p << " " << th_s;
      }
      // Equalizing.
      const uint64_t t_e = std::max(t_s, t_d);
      d = Decide(equalizing, id, tracestate, &out);
      ASSERT_EQ(d.keep, r >= t_e) << p << " " << th_s;
      if (d.keep) {
        ASSERT_EQ(d.tracestate_changed ? out : tracestate,
                  t_e == t_s ? tracestate : "ot=th:" + SpecThresholdText(p, kPrecision));
      }
      ++checked;
    }
  }
  // About a third of the ids pass the arriving thresholds (1, 1/2, 1/4, 1/8, 1/3, 1/100, 1/10).
  EXPECT_GT(checked, 20 * kIds * 3 / 10);
}

// The library's precision handling against the transcription over many probabilities and
// every precision, not only those of the statistical runs.
TEST(SpecStatisticsTest, ThresholdTextForRandomProbabilitiesAndEveryPrecision) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int i = 0; i < 20'000; ++i) {
    // Log-uniform over [2^-56, 1] and uniform over (0, 1].
    const double p = (i % 2) ? std::pow(2.0, -56 * unit(rng)) : 1 - unit(rng);
    if (p < kMinProbability || p > 1) continue;
    for (int precision = 1; precision <= 14; ++precision) {
      absl::StatusOr<uint64_t> t = ThresholdFromProbability(p, precision);
      ASSERT_TRUE(t.ok()) << p;
      ASSERT_EQ(EncodeThreshold(*t), SpecThresholdText(p, precision)) << p << " " << precision;
    }
  }
}

}  // namespace
}  // namespace otlpd::consistent_sampling
