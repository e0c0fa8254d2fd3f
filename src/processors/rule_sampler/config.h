#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/factory.h"
#include "processors/consistent_sampling/threshold.h"

namespace re2 {
class RE2;
}

namespace otlpd {

// A string condition: exact (`name: x`) or a regular expression (`name: {regex: "^x"}`).
struct TextCondition {
  bool set = false;
  std::string exact;
  std::shared_ptr<const re2::RE2> regex;
  std::string regex_prefix;  // what every match of `regex` starts with (RegexLiteralPrefix)
};

// An attribute condition: `value` (equal as text), `regex`, `exists`, or a numeric range
// `min` / `max` (inclusive; ints, doubles and numeric strings).
struct AttributeCondition {
  enum class Kind { kEquals, kRegex, kExists, kRange };
  std::string key;
  Kind kind = Kind::kExists;
  bool exists = true;
  std::string value;
  std::shared_ptr<const re2::RE2> regex;
  std::string regex_prefix;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
};

// One rule: every condition given must hold (AND); the first matching rule decides.
struct SamplingRule {
  std::string name;
  TextCondition service_name;
  TextCondition span_name;
  std::vector<int32_t> span_kinds;     // OTLP Span.SpanKind values; empty: any
  std::optional<int32_t> status_code;  // 0 UNSET, 1 OK, 2 ERROR
  std::optional<absl::Duration> min_duration;
  std::optional<absl::Duration> max_duration;
  std::vector<AttributeCondition> attributes;
  bool drop = false;
  double sampling_percentage = 100;
};

struct RuleSamplerConfig : ComponentConfig {
  std::vector<SamplingRule> rules;
  double default_sampling_percentage = 100;
  int sampling_precision = consistent_sampling::kDefaultPrecision;
  bool fail_closed = true;
};

}  // namespace otlpd
