#include "processors/consistent_sampling/threshold.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace otlpd::consistent_sampling {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<uint64_t> ParseHex(std::string_view text) {
  uint64_t value = 0;
  for (char c : text) {
    const int digit = HexValue(c);
    if (digit < 0) return std::nullopt;
    value = (value << 4) | static_cast<uint64_t>(digit);
  }
  return value;
}

// Python's `a // b` (floor division), which the specification's algorithm uses.
int FloorDiv(int a, int b) {
  const int q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

absl::StatusOr<uint64_t> ThresholdFromProbability(double probability, int precision) {
  // Written so that NaN fails too.
  if (!(probability >= kMinProbability && probability <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling probability ", probability, " is outside [2^-56, 1]"));
  }
  if (probability == 1) return kAlwaysSampleThreshold;
  precision = std::clamp(precision, 1, kMaxPrecision);
  int exponent = 0;
  std::frexp(probability, &exponent);
  precision = std::max(1, std::min(12, precision + FloorDiv(exponent, -4)));
  // 2 - p lies in [1, 2): its 52 mantissa bits are the 13 leading hex digits of 1 - p.
  // Adding half of the last kept digit makes the truncation below round half up.
  double rejection = 2.0 - probability;
  rejection += std::ldexp(0.5, -4 * precision);
  uint64_t digits52 = (uint64_t{1} << 52) - 1;  // 13 'f' digits, when the rounding carried out
  if (rejection < 2.0) {
    uint64_t bits = 0;
    std::memcpy(&bits, &rejection, sizeof bits);
    digits52 = bits & ((uint64_t{1} << 52) - 1);
  }
  const int dropped_bits = 4 * (13 - precision);
  digits52 = (digits52 >> dropped_bits) << dropped_bits;
  return digits52 << 4;
}

double ProbabilityFromThreshold(uint64_t threshold) {
  if (threshold >= kMaxAdjustedCount) return 0;
  return static_cast<double>(kMaxAdjustedCount - threshold) /
         static_cast<double>(kMaxAdjustedCount);
}

double AdjustedCount(uint64_t threshold) {
  if (threshold >= kMaxAdjustedCount) return 0;
  return static_cast<double>(kMaxAdjustedCount) /
         static_cast<double>(kMaxAdjustedCount - threshold);
}

void AppendThreshold(uint64_t threshold, std::string* out) {
  if (threshold == 0) {
    out->push_back('0');
    return;
  }
  char digits[14];
  for (int i = 13; i >= 0; --i) {
    digits[i] = kHexDigits[threshold & 0xf];
    threshold >>= 4;
  }
  int length = 14;
  while (digits[length - 1] == '0') --length;
  out->append(digits, static_cast<size_t>(length));
}

std::string EncodeThreshold(uint64_t threshold) {
  std::string out;
  AppendThreshold(threshold, &out);
  return out;
}

std::optional<uint64_t> ParseThreshold(std::string_view text) {
  if (text.empty() || text.size() > 14) return std::nullopt;
  std::optional<uint64_t> value = ParseHex(text);
  if (!value) return std::nullopt;
  return *value << (4 * (14 - text.size()));
}

void AppendRandomness(uint64_t randomness, std::string* out) {
  char digits[14];
  for (int i = 13; i >= 0; --i) {
    digits[i] = kHexDigits[randomness & 0xf];
    randomness >>= 4;
  }
  out->append(digits, sizeof digits);
}

std::optional<uint64_t> ParseRandomness(std::string_view text) {
  if (text.size() != 14) return std::nullopt;
  return ParseHex(text);
}

uint64_t RandomnessFromTraceId(std::string_view trace_id) {
  uint64_t randomness = 0;
  for (size_t i = 9; i < 16 && i < trace_id.size(); ++i) {
    randomness = (randomness << 8) | static_cast<uint8_t>(trace_id[i]);
  }
  return randomness;
}

bool IsInvalidTraceId(std::string_view trace_id) {
  if (trace_id.size() != 16) return true;
  for (char c : trace_id) {
    if (c != 0) return false;
  }
  return true;
}

Stage Stage::Equalizing(double probability, int precision) {
  Stage stage;
  stage.mode_ = Mode::kEqualizing;
  stage.precision_ = precision;
  // As otelcol: above 1 is 1; a positive probability too small to encode is the smallest one.
  if (!(probability > 0)) {
    stage.probability_ = 0;
    stage.threshold_ = kNeverSampleThreshold;
    return stage;
  }
  stage.probability_ = std::clamp(probability, kMinProbability, 1.0);
  stage.threshold_ = *ThresholdFromProbability(stage.probability_, precision);
  return stage;
}

Stage Stage::Proportional(double probability, int precision) {
  Stage stage = Equalizing(probability, precision);
  stage.mode_ = Mode::kProportional;
  return stage;
}

Stage Stage::WithThreshold(uint64_t threshold) {
  Stage stage;
  stage.mode_ = Mode::kEqualizing;
  stage.threshold_ = std::min(threshold, kNeverSampleThreshold);
  stage.probability_ = ProbabilityFromThreshold(stage.threshold_);
  stage.precision_ = kMaxPrecision;
  return stage;
}

uint64_t Stage::Outgoing(std::optional<uint64_t> arriving) const {
  if (!arriving) return threshold_;
  if (mode_ == Mode::kEqualizing) return std::max(*arriving, threshold_);
  // Proportional. The product rounded to `precision` digits can fall below an arriving
  // threshold that has more digits; a downstream stage never lowers one.
  if (threshold_ == kNeverSampleThreshold) return kNeverSampleThreshold;
  const double product = probability_ * ProbabilityFromThreshold(*arriving);
  absl::StatusOr<uint64_t> threshold = ThresholdFromProbability(product, precision_);
  if (!threshold.ok()) return kNeverSampleThreshold;
  return std::max(*threshold, *arriving);
}

}  // namespace otlpd::consistent_sampling
