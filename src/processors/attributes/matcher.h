// The attributes processor's include/exclude properties (otelcol's filterconfig
// MatchProperties, evaluated as filterspan, filterlog and filtermetric do without the OTTL
// bridge feature gates).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config_node.h"
#include "core/signal.h"
#include "processors/attraction/attr_map.h"
#include "processors/attraction/scratch.h"

namespace re2 {
class RE2;
}

namespace otlpd {

// otelcol's filterset: strings matched exactly (match_type: strict) or by regular
// expressions found anywhere in the string (match_type: regexp, Go's MatchString).
class StringFilter {
 public:
  bool Matches(std::string_view s) const;

  std::vector<std::string> strict;
  std::vector<std::shared_ptr<const re2::RE2>> regexes;
};

// One entry of `attributes` or `resources`: the key must be present and, when a value is
// given, equal it (strict: same type and value) or match it (regexp: string forms).
struct AttributeFilter {
  std::string key;
  bool has_value = false;
  std::string value;                      // strict: AnyValue encoding
  std::shared_ptr<const re2::RE2> regex;  // regexp
};

// One entry of `libraries`: the instrumentation scope's name, and version when given
// (an empty version matches only an empty version).
struct LibraryFilter {
  StringFilter name;
  std::optional<StringFilter> version;
};

// What an item is matched on. The processor fills in what the properties need.
struct MatchInput {
  const attraction::AttrMap* attributes = nullptr;  // the item's (before the actions)
  const attraction::AttrMap* resource = nullptr;
  std::string_view service_name;  // AsString of service.name, or "<nil-service-name>"
  std::string_view scope_name;
  std::string_view scope_version;
  // Spans.
  std::string_view span_name;
  int32_t span_kind = 0;
  // Log records.
  std::string_view body;  // the AnyValue encoding
  std::string_view severity_text;
  int32_t severity_number = 0;
  // Metrics.
  std::string_view metric_name;
};

struct MatchProperties {
  std::optional<StringFilter> services;
  std::optional<StringFilter> span_names;
  std::optional<StringFilter> span_kinds;
  std::optional<StringFilter> log_bodies;
  std::optional<StringFilter> log_severity_texts;
  std::optional<StringFilter> metric_names;
  bool has_severity_number = false;
  int32_t severity_min = 0;
  bool severity_match_undefined = false;
  std::vector<AttributeFilter> attributes;
  std::vector<AttributeFilter> resources;
  std::vector<LibraryFilter> libraries;

  // Why these properties cannot be used for a signal (otelcol's ValidateForSpans,
  // ValidateForLogs, ValidateForMetrics), "" when they can.
  std::array<std::string, 3> invalid_for;

  // Whether no property at all is given.
  bool Empty() const {
    return !services && !span_names && !span_kinds && !log_bodies && !log_severity_texts &&
           !metric_names && !has_severity_number && attributes.empty() && resources.empty() &&
           libraries.empty();
  }

  // What the processor must read for them.
  bool NeedsResource() const { return services.has_value() || !resources.empty(); }
  bool NeedsScope() const { return !libraries.empty(); }
  // Whether any property is about the item itself (not its resource or scope).
  bool HasItemProperties() const {
    return span_names || span_kinds || log_bodies || log_severity_texts || has_severity_number ||
           metric_names || !attributes.empty();
  }

  // `in` matches every property given when it matches these three parts; the first two
  // depend only on the resource (services, resources) and the scope (libraries), so the
  // processor asks once per resource and scope. The properties of other signals are never
  // set (see invalid_for).
  bool MatchesResource(const MatchInput& in, attraction::Scratch* scratch) const;
  bool MatchesScope(const MatchInput& in) const;
  bool MatchesItem(const MatchInput& in, attraction::Scratch* scratch) const;
};

// Parses `include` or `exclude` (`node`); problems that hold for every signal (match_type,
// regular expressions, entries) go to its diagnostics, the per-signal ones to invalid_for.
MatchProperties ParseMatchProperties(ConfigNode& node);

// otelcol's traceutil.SpanKindStr: "SPAN_KIND_SERVER", ...; "" for an unknown kind.
std::string_view SpanKindName(int32_t kind);

}  // namespace otlpd
