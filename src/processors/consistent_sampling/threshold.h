// OpenTelemetry consistent probability sampling ("TraceState: Probability Sampling" and
// "TraceState Handling" in the specification): 56-bit rejection thresholds, 56-bit
// randomness, the keep decision R >= T, and the downstream stages (equalizing,
// proportional) that may only raise a threshold. Shared by the sampling processors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace otlpd::consistent_sampling {

// 2^56: the number of distinct randomness values; the adjusted count of the smallest probability.
inline constexpr uint64_t kMaxAdjustedCount = uint64_t{1} << 56;
// Rejects nothing: `th:0`, 100 %.
inline constexpr uint64_t kAlwaysSampleThreshold = 0;
// Rejects every randomness value (0 %). It has no `th` encoding: nothing carries it.
inline constexpr uint64_t kNeverSampleThreshold = kMaxAdjustedCount;
// The smallest non-zero probability, 2^-56.
inline constexpr double kMinProbability = 1.0 / 72057594037927936.0;
// `sampling_precision`: hex digits of a threshold (otelcol's range and default).
inline constexpr int kMaxPrecision = 14;
inline constexpr int kDefaultPrecision = 4;

// The rejection threshold for `probability` with `precision` significant hex digits, by the
// specification's algorithm (probability_to_threshold_with_precision): the precision grows by
// one digit per factor of 16 below 1/2 (so that small probabilities keep their significant
// digits), is capped at 12 (what a double carries), and the last digit is rounded half up.
// A probability of 1 is threshold 0. `precision` outside [1, 14] is clamped into it.
// InvalidArgument unless kMinProbability <= probability <= 1.
absl::StatusOr<uint64_t> ThresholdFromProbability(double probability,
                                                  int precision = kDefaultPrecision);

// (2^56 - T) / 2^56; 0 for kNeverSampleThreshold.
double ProbabilityFromThreshold(uint64_t threshold);
// 2^56 / (2^56 - T): how many items of the input one kept item stands for; 0 for never.
double AdjustedCount(uint64_t threshold);

// The `th` value: 14 hex digits, lower case, trailing zeros removed; "0" for threshold 0.
// `threshold` must be < kNeverSampleThreshold.
void AppendThreshold(uint64_t threshold, std::string* out);
std::string EncodeThreshold(uint64_t threshold);
// A `th` value: 1 to 14 hex digits (either case), extended with trailing zeros to 14.
std::optional<uint64_t> ParseThreshold(std::string_view text);

// The `rv` value: exactly 14 hex digits.
void AppendRandomness(uint64_t randomness, std::string* out);
std::optional<uint64_t> ParseRandomness(std::string_view text);

// The randomness in a trace id (W3C Trace Context Level 2): its last 7 bytes, big-endian.
// `trace_id` must be 16 bytes.
uint64_t RandomnessFromTraceId(std::string_view trace_id);
// True for the invalid trace id (16 zero bytes, or not 16 bytes), which has no randomness.
bool IsInvalidTraceId(std::string_view trace_id);

// The specification's decision: keep when R >= T.
inline bool ShouldSample(uint64_t threshold, uint64_t randomness) {
  return randomness >= threshold;
}

// A downstream sampling stage ("Downstream threshold" in the specification): maps the
// threshold an item arrives with (none when it has no `th`) to the threshold it leaves with,
// which is never lower than the arriving one.
class Stage {
 public:
  enum class Mode { kEqualizing, kProportional };

  // Equalizing: items leave with max(arriving, T(probability)).
  static Stage Equalizing(double probability, int precision = kDefaultPrecision);
  // Proportional: items leave with T(probability * P(arriving)); never sampled when the
  // product is below kMinProbability.
  static Stage Proportional(double probability, int precision = kDefaultPrecision);
  // A fixed outgoing threshold (equalizing to it): what rule and adaptive samplers apply.
  static Stage WithThreshold(uint64_t threshold);

  uint64_t Outgoing(std::optional<uint64_t> arriving) const;

  Mode mode() const { return mode_; }
  double probability() const { return probability_; }
  int precision() const { return precision_; }
  // The threshold the stage applies to an item arriving without `th`.
  uint64_t threshold() const { return threshold_; }

 private:
  Mode mode_ = Mode::kEqualizing;
  double probability_ = 1;
  int precision_ = kDefaultPrecision;
  uint64_t threshold_ = kAlwaysSampleThreshold;
};

}  // namespace otlpd::consistent_sampling
