// The subset of the OpenTelemetry Transformation Language (OTTL) that the filter processor's
// conditions use: comparisons (== != < <= > >=) of paths, literals and enum constants,
// + and - on numbers (span durations), and/or/not with parentheses, and the converters
// IsMatch and Duration. Anything else is refused when the condition is parsed, with the
// column it starts at, so that a configuration never silently filters less than it says.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace re2 {
class RE2;
}

namespace otlpd::ottl {

// The OTTL context a condition is evaluated in (the filter processor's config keys
// traces.span, traces.spanevent, metrics.metric, metrics.datapoint, logs.log_record).
enum class Context : uint8_t { kSpan, kSpanEvent, kMetric, kDataPoint, kLog };
std::string_view ContextName(Context c);

// What a path reads from the item.
enum class Field : uint8_t {
  kAttribute,          // attributes["k"]: the item's (span, event, data point, log record)
  kResourceAttribute,  // resource.attributes["k"]
  kScopeAttribute,     // instrumentation_scope.attributes["k"]
  kScopeName,
  kScopeVersion,
  kName,  // span, span event or metric name
  kKind,
  kStatusCode,
  kStatusMessage,
  kStartTime,  // nanoseconds since the epoch (start_time_unix_nano, or start_time)
  kEndTime,
  kTime,  // span event, data point or log record time
  kObservedTime,
  kSeverityNumber,
  kSeverityText,
  kBody,
  kEventName,
  kMetricName,  // metric.name in the data point context
  kDescription,
  kUnit,
  kMetricType,  // METRIC_DATA_TYPE_*
  kCount,
};

// A value as OTTL compares it. Strings are views (of the request, or of the condition).
struct Value {
  enum class Type : uint8_t { kNil, kStr, kInt, kDouble, kBool, kOther };
  Type type = Type::kNil;
  std::string_view str;  // kStr; kOther: the AnyValue's encoding (a map, slice or bytes)
  int64_t i = 0;
  double d = 0;
  bool b = false;

  static Value Nil() { return {}; }
  static Value Str(std::string_view s) { return {Type::kStr, s, 0, 0, false}; }
  static Value Int(int64_t v) { return {Type::kInt, {}, v, 0, false}; }
  static Value Double(double v) { return {Type::kDouble, {}, 0, v, false}; }
  static Value Bool(bool v) { return {Type::kBool, {}, 0, 0, v}; }
  static Value Other(std::string_view any_value) { return {Type::kOther, any_value, 0, 0, false}; }
};

// The item a condition looks at: the processor reads fields from the request's bytes on
// demand (Get is called only for the paths a condition has).
class Item {
 public:
  virtual ~Item() = default;
  // `key` is the attribute key for the attribute fields, empty otherwise.
  virtual Value Get(Field field, std::string_view key) = 0;
  // pcommon AsString of a kOther value (IsMatch on maps, slices and bytes). Must stay
  // valid until the item is done.
  virtual std::string_view OtherAsString(std::string_view any_value) = 0;
};

struct Expr;

// One parsed condition.
class Condition {
 public:
  // Parses `text` for `context`. The error says what is wrong and at which column.
  static absl::StatusOr<Condition> Parse(std::string_view text, Context context);

  Condition(Condition&&) noexcept;
  Condition& operator=(Condition&&) noexcept;
  ~Condition();

  // Whether the item matches. A failed evaluation (arithmetic on a string, ...) sets
  // *error and counts as no match.
  bool Matches(Item& item, bool* error) const;

  const std::string& text() const { return text_; }
  // Whether the condition reads this field (to know what to load).
  bool Uses(Field f) const { return (fields_ >> static_cast<int>(f)) & 1; }

 private:
  Condition() = default;
  std::string text_;
  std::unique_ptr<Expr> root_;
  uint64_t fields_ = 0;
};

}  // namespace otlpd::ottl
