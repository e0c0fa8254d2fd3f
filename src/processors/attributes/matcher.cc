#include "processors/attributes/matcher.h"

#include <re2/re2.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "processors/attraction/actions.h"
#include "processors/attraction/config_value.h"
#include "processors/attraction/value.h"

namespace otlpd {

namespace {

using attraction::AttrMap;
using attraction::Scratch;
using attraction::Value;

constexpr std::string_view kStandardSpanKinds[] = {"SPAN_KIND_CLIENT", "SPAN_KIND_CONSUMER",
                                                   "SPAN_KIND_INTERNAL", "SPAN_KIND_PRODUCER",
                                                   "SPAN_KIND_SERVER"};

YAML::Node FindKey(const YAML::Node& map, std::string_view key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

bool MatchesRegex(const re2::RE2& re, std::string_view s) {
  return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), re);
}

// A string list of the properties; absent or empty gives no filter (as otelcol).
std::optional<StringFilter> ParseList(ConfigNode& node, std::string_view key, bool regexp) {
  std::vector<std::string> items;
  if (!node.Get(key, &items) || items.empty()) return std::nullopt;
  StringFilter filter;
  for (std::string& item : items) {
    if (!regexp) {
      filter.strict.push_back(std::move(item));
      continue;
    }
    std::string error;
    auto re = attraction::CompileRegex(item, &error);
    if (re == nullptr) {
      node.Error(key, absl::StrCat("invalid regular expression \"", item, "\": ", error));
      continue;
    }
    filter.regexes.push_back(std::move(re));
  }
  return filter;
}

StringFilter OneString(ConfigNode& node, std::string_view key, const std::string& s, bool regexp) {
  StringFilter filter;
  if (!regexp) {
    filter.strict.push_back(s);
    return filter;
  }
  std::string error;
  auto re = attraction::CompileRegex(s, &error);
  if (re == nullptr) {
    node.Error(key, absl::StrCat("invalid regular expression \"", s, "\": ", error));
  } else {
    filter.regexes.push_back(std::move(re));
  }
  return filter;
}

// `attributes` or `resources`: a list of {key, value}.
std::vector<AttributeFilter> ParseAttributeList(ConfigNode& node, std::string_view key,
                                                bool regexp) {
  std::vector<AttributeFilter> filters;
  node.MarkKnown(key);
  const YAML::Node list = FindKey(node.yaml(), key);
  if (attraction::IsNullNode(list)) return filters;
  if (!list.IsSequence()) {
    node.Error(key, "expected a list");
    return filters;
  }
  const std::string prefix = absl::StrCat(node.path(), "::", std::string(key));
  for (size_t i = 0; i < list.size(); ++i) {
    ConfigNode item(list[i], absl::StrCat(prefix, "[", i, "]"), node.diagnostics());
    if (!item.IsDefined()) {
      if (attraction::IsNullNode(list[i])) {
        item.Error("", "can't have empty key in the list of attributes");
      }
      continue;
    }
    AttributeFilter filter;
    item.Get("key", &filter.key);
    item.MarkKnown("value");
    item.ReportUnknownKeys();
    if (filter.key.empty()) {
      item.Error("", "can't have empty key in the list of attributes");
      continue;
    }
    const YAML::Node value = FindKey(item.yaml(), "value");
    if (!attraction::IsNullNode(value)) {
      std::string encoded, error;
      if (!attraction::YamlToAnyValue(value, &encoded, &error)) {
        item.Error("value", error);
        continue;
      }
      filter.has_value = true;
      if (regexp) {
        Scratch scratch;
        const Value v = attraction::DecodeValue(encoded, &scratch);
        if (v.type != attraction::ValueType::kStr) {
          item.Error("value", absl::StrCat("match_type=regexp for \"", filter.key,
                                           "\" only supports Str, but found ",
                                           std::string(attraction::ValueTypeName(v.type))));
          continue;
        }
        std::string error2;
        filter.regex = attraction::CompileRegex(v.bytes, &error2);
        if (filter.regex == nullptr) {
          item.Error("value", absl::StrCat("invalid regular expression \"", std::string(v.bytes),
                                           "\": ", error2));
          continue;
        }
      } else {
        filter.value = std::move(encoded);
      }
    }
    filters.push_back(std::move(filter));
  }
  return filters;
}

std::vector<LibraryFilter> ParseLibraries(ConfigNode& node, bool regexp) {
  std::vector<LibraryFilter> filters;
  node.MarkKnown("libraries");
  const YAML::Node list = FindKey(node.yaml(), "libraries");
  if (attraction::IsNullNode(list)) return filters;
  if (!list.IsSequence()) {
    node.Error("libraries", "expected a list");
    return filters;
  }
  const std::string prefix = absl::StrCat(node.path(), "::libraries");
  for (size_t i = 0; i < list.size(); ++i) {
    ConfigNode item(list[i], absl::StrCat(prefix, "[", i, "]"), node.diagnostics());
    if (!item.IsDefined()) continue;
    std::string name, version;
    item.Get("name", &name);
    const bool has_version = item.Get("version", &version);
    item.ReportUnknownKeys();
    LibraryFilter filter;
    filter.name = OneString(item, "name", name, regexp);
    if (has_version) {
      filter.version = OneString(item, "version", version, regexp);
    }
    filters.push_back(std::move(filter));
  }
  return filters;
}

bool MatchAttributes(const std::vector<AttributeFilter>& filters, const AttrMap* attrs,
                     Scratch* scratch) {
  if (filters.empty()) return true;
  if (attrs == nullptr || attrs->size() == 0) return false;
  std::string text;
  for (const AttributeFilter& f : filters) {
    const int i = attrs->Find(f.key);
    if (i < 0) return false;
    if (!f.has_value) continue;
    const Value v = attrs->Get(static_cast<size_t>(i), scratch);
    if (f.regex != nullptr) {
      if (!attraction::MatcherString(v, &text) || !MatchesRegex(*f.regex, text)) return false;
    } else if (!attraction::ValueEquals(attraction::DecodeValue(f.value, scratch), v, scratch)) {
      return false;
    }
  }
  return true;
}

void Validate(MatchProperties& mp, bool strict, bool span_kinds_ok) {
  const bool has_log_fields =
      mp.log_bodies.has_value() || mp.log_severity_texts.has_value() || mp.has_severity_number;
  // Traces (otelcol's ValidateForSpans).
  std::string& traces = mp.invalid_for[static_cast<int>(Signal::kTraces)];
  if (mp.log_bodies) {
    traces = "log_bodies should not be specified for trace spans";
  } else if (mp.log_severity_texts) {
    traces = "log_severity_texts should not be specified for trace spans";
  } else if (mp.has_severity_number) {
    traces = "log_severity_number should not be specified for trace spans";
  } else if (mp.metric_names) {
    traces = "metric_names should not be specified for trace spans";
  } else if (!mp.services && !mp.span_names && mp.attributes.empty() && mp.libraries.empty() &&
             mp.resources.empty() && !mp.span_kinds) {
    traces =
        "at least one of \"services\", \"span_names\", \"span_kinds\", \"attributes\", "
        "\"libraries\" or \"resources\" field must be specified";
  } else if (strict && !span_kinds_ok) {
    traces =
        "span_kinds string must match one of the standard span kinds when match_type=strict: "
        "[SPAN_KIND_CLIENT SPAN_KIND_CONSUMER SPAN_KIND_INTERNAL SPAN_KIND_PRODUCER "
        "SPAN_KIND_SERVER]";
  }
  // Logs (ValidateForLogs).
  std::string& logs = mp.invalid_for[static_cast<int>(Signal::kLogs)];
  if (mp.span_names || mp.services || mp.span_kinds || mp.metric_names) {
    logs = "services, span_names, span_kinds and metric_names are not valid for log records";
  } else if (mp.attributes.empty() && mp.libraries.empty() && mp.resources.empty() &&
             !has_log_fields) {
    logs =
        "at least one of \"attributes\", \"libraries\", \"resources\", \"log_bodies\", "
        "\"log_severity_texts\" or \"log_severity_number\" field must be specified";
  }
  // Metrics (ValidateForMetrics).
  std::string& metrics = mp.invalid_for[static_cast<int>(Signal::kMetrics)];
  if (has_log_fields || mp.span_names || mp.services || mp.span_kinds || !mp.attributes.empty() ||
      !mp.libraries.empty()) {
    metrics =
        "\"span_names\", \"span_kinds\", \"log_bodies\", \"log_severity_texts\", "
        "\"log_severity_number\", \"services\", \"attributes\" and \"libraries\" are not valid "
        "for metrics";
  } else if (!mp.metric_names && mp.resources.empty()) {
    metrics = "at least one of \"metric_names\" or \"resources\" field must be specified";
  }
}

}  // namespace

bool StringFilter::Matches(std::string_view s) const {
  for (const std::string& v : strict) {
    if (v == s) return true;
  }
  for (const auto& re : regexes) {
    if (MatchesRegex(*re, s)) return true;
  }
  return false;
}

std::string_view SpanKindName(int32_t kind) {
  switch (kind) {
    case 0:
      return "SPAN_KIND_UNSPECIFIED";
    case 1:
      return "SPAN_KIND_INTERNAL";
    case 2:
      return "SPAN_KIND_SERVER";
    case 3:
      return "SPAN_KIND_CLIENT";
    case 4:
      return "SPAN_KIND_PRODUCER";
    case 5:
      return "SPAN_KIND_CONSUMER";
    default:
      return "";
  }
}

MatchProperties ParseMatchProperties(ConfigNode& node) {
  MatchProperties mp;
  std::string match_type;
  node.Get("match_type", &match_type);
  const bool regexp = match_type == "regexp";
  if (match_type != "regexp" && match_type != "strict") {
    node.Error(node.Has("match_type") ? "match_type" : "",
               absl::StrCat("unrecognized match_type: '", match_type,
                            "', valid types are: [regexp strict]"));
  }
  // Options of otelcol's regexp cache; matching gives the same results without it.
  ConfigNode regexp_options = node.Child("regexp");
  bool cache_enabled = false;
  int64_t cache_entries = 0;
  regexp_options.Get("cacheenabled", &cache_enabled);
  regexp_options.Get("cachemaxnumentries", &cache_entries);
  (void)cache_enabled;
  (void)cache_entries;

  mp.services = ParseList(node, "services", regexp);
  mp.span_names = ParseList(node, "span_names", regexp);
  mp.span_kinds = ParseList(node, "span_kinds", regexp);
  mp.log_bodies = ParseList(node, "log_bodies", regexp);
  mp.log_severity_texts = ParseList(node, "log_severity_texts", regexp);
  mp.metric_names = ParseList(node, "metric_names", regexp);
  bool severity_present = false;
  ConfigNode severity = node.Child("log_severity_number", &severity_present);
  if (severity_present && severity.IsDefined()) {
    mp.has_severity_number = true;
    int64_t min = 0;
    if (severity.Get("min", &min) && (min < INT32_MIN || min > INT32_MAX)) {
      severity.Error("min", "integer out of range");
    }
    mp.severity_min = static_cast<int32_t>(min);
    severity.Get("match_undefined", &mp.severity_match_undefined);
  }
  mp.attributes = ParseAttributeList(node, "attributes", regexp);
  mp.resources = ParseAttributeList(node, "resources", regexp);
  mp.libraries = ParseLibraries(node, regexp);

  bool span_kinds_ok = true;
  if (mp.span_kinds && !regexp) {
    for (const std::string& kind : mp.span_kinds->strict) {
      if (std::find(std::begin(kStandardSpanKinds), std::end(kStandardSpanKinds), kind) ==
          std::end(kStandardSpanKinds)) {
        span_kinds_ok = false;
      }
    }
  }
  Validate(mp, !regexp, span_kinds_ok);
  return mp;
}

bool MatchProperties::MatchesResource(const MatchInput& in, Scratch* scratch) const {
  if (services && !services->Matches(in.service_name)) return false;
  return MatchAttributes(resources, in.resource, scratch);
}

bool MatchProperties::MatchesScope(const MatchInput& in) const {
  for (const LibraryFilter& lib : libraries) {
    if (!lib.name.Matches(in.scope_name)) return false;
    if (lib.version && !lib.version->Matches(in.scope_version)) return false;
  }
  return true;
}

bool MatchProperties::MatchesItem(const MatchInput& in, Scratch* scratch) const {
  if (span_names && !span_names->Matches(in.span_name)) return false;
  if (span_kinds && !span_kinds->Matches(SpanKindName(in.span_kind))) return false;
  if (log_bodies) {
    const std::string body =
        attraction::AsString(attraction::DecodeValue(in.body, scratch), scratch);
    if (!log_bodies->Matches(body)) return false;
  }
  if (log_severity_texts && !log_severity_texts->Matches(in.severity_text)) return false;
  if (has_severity_number) {
    // Unspecified (0) matches only with match_undefined; otherwise at least `min`.
    if (in.severity_number == 0 ? !severity_match_undefined : in.severity_number < severity_min) {
      return false;
    }
  }
  if (metric_names && !metric_names->Matches(in.metric_name)) return false;
  return MatchAttributes(attributes, in.attributes, scratch);
}

}  // namespace otlpd
