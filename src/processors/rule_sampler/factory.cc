#include "processors/rule_sampler/factory.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "processors/attraction/actions.h"
#include "processors/rule_sampler/config.h"
#include "processors/rule_sampler/rule_sampler.h"

namespace otlpd {

namespace {

std::shared_ptr<const re2::RE2> CompileRegex(ConfigNode& node, std::string_view key,
                                             const std::string& pattern) {
  auto re = std::make_shared<const re2::RE2>(pattern, re2::RE2::Quiet);
  if (!re->ok()) {
    node.Error(key, absl::StrCat("invalid regex \"", pattern, "\": ", re->error()));
    return nullptr;
  }
  return re;
}

// `key: text` (exact) or `key: {regex: ...}` / `key: {exact: ...}`.
void ParseText(ConfigNode& node, std::string_view key, TextCondition* out) {
  if (!node.Has(key)) return;
  const YAML::Node value = node.yaml()[std::string(key)];
  if (value.IsMap()) {
    ConfigNode child = node.Child(key);
    std::string text;
    const bool has_exact = child.Get("exact", &out->exact);
    if (child.Get("regex", &text)) {
      if (has_exact) child.Error("", "give one of \"exact\" or \"regex\"");
      out->regex = CompileRegex(child, "regex", text);
      out->regex_prefix = attraction::RegexLiteralPrefix(text);
    } else if (!has_exact) {
      child.Error("", "expected \"exact\" or \"regex\"");
    }
    child.ReportUnknownKeys();
  } else {
    node.Get(key, &out->exact);
  }
  out->set = true;
}

bool SpanKindValue(std::string name, int32_t* out) {
  name = absl::AsciiStrToUpper(name);
  if (name.rfind("SPAN_KIND_", 0) == 0) name = name.substr(10);
  static const std::pair<const char*, int32_t> kKinds[] = {{"UNSPECIFIED", 0}, {"INTERNAL", 1},
                                                           {"SERVER", 2},      {"CLIENT", 3},
                                                           {"PRODUCER", 4},    {"CONSUMER", 5}};
  for (const auto& [kind, value] : kKinds) {
    if (name == kind) {
      *out = value;
      return true;
    }
  }
  return false;
}

bool StatusCodeValue(std::string name, int32_t* out) {
  name = absl::AsciiStrToUpper(name);
  if (name.rfind("STATUS_CODE_", 0) == 0) name = name.substr(12);
  if (name == "UNSET")
    *out = 0;
  else if (name == "OK")
    *out = 1;
  else if (name == "ERROR")
    *out = 2;
  else
    return false;
  return true;
}

void ParsePercentage(ConfigNode& node, std::string_view key, double* out) {
  if (node.Get(key, out) && !(*out >= 0 && *out <= 100)) {
    node.Error(key, "must be between 0 and 100");
  }
}

void ParseAttributes(ConfigNode& rule_node, std::vector<AttributeCondition>* out) {
  if (!rule_node.Has("attributes")) return;
  rule_node.MarkKnown("attributes");
  const YAML::Node list = rule_node.yaml()["attributes"];
  if (!list.IsSequence()) {
    rule_node.Error("attributes", "expected a list");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    ConfigNode item(list[i], absl::StrCat(rule_node.path(), "::attributes[", i, "]"),
                    rule_node.diagnostics());
    AttributeCondition c;
    if (!item.Get("key", &c.key) || c.key.empty()) item.Error("", "missing required field \"key\"");
    int kinds = 0;
    if (item.Has("value")) {
      ++kinds;
      c.kind = AttributeCondition::Kind::kEquals;
      item.Get("value", &c.value);
    }
    std::string pattern;
    if (item.Get("regex", &pattern)) {
      ++kinds;
      c.kind = AttributeCondition::Kind::kRegex;
      c.regex = CompileRegex(item, "regex", pattern);
      c.regex_prefix = attraction::RegexLiteralPrefix(pattern);
    }
    if (item.Get("exists", &c.exists)) {
      ++kinds;
      c.kind = AttributeCondition::Kind::kExists;
    }
    const bool has_min = item.Get("min", &c.min);
    const bool has_max = item.Get("max", &c.max);
    if (has_min || has_max) {
      ++kinds;
      c.kind = AttributeCondition::Kind::kRange;
      if (c.min > c.max) item.Error("min", "\"min\" is greater than \"max\"");
    }
    if (kinds == 0) {
      // `- {key: k}` alone: the attribute must exist.
      c.kind = AttributeCondition::Kind::kExists;
    } else if (kinds > 1) {
      item.Error("", "give one of \"value\", \"regex\", \"exists\" or \"min\"/\"max\"");
    }
    item.ReportUnknownKeys();
    out->push_back(std::move(c));
  }
}

void ParseRule(ConfigNode& node, SamplingRule* rule) {
  if (!node.Get("name", &rule->name) || rule->name.empty()) {
    node.Error("", "missing required field \"name\"");
  }
  ParseText(node, "service_name", &rule->service_name);
  ParseText(node, "span_name", &rule->span_name);
  if (node.Has("span_kind")) {
    std::vector<std::string> kinds;
    if (node.yaml()["span_kind"].IsSequence()) {
      node.Get("span_kind", &kinds);
    } else {
      kinds.emplace_back();
      node.Get("span_kind", &kinds.back());
    }
    for (const std::string& k : kinds) {
      int32_t value = 0;
      if (!SpanKindValue(k, &value)) {
        node.Error("span_kind", absl::StrCat("unknown span kind \"", k,
                                             "\" (UNSPECIFIED, INTERNAL, SERVER, CLIENT, "
                                             "PRODUCER, CONSUMER)"));
      }
      rule->span_kinds.push_back(value);
    }
  }
  std::string status;
  if (node.Get("status_code", &status)) {
    int32_t value = 0;
    if (!StatusCodeValue(status, &value)) {
      node.Error("status_code",
                 absl::StrCat("unknown status code \"", status, "\" (UNSET, OK, ERROR)"));
    }
    rule->status_code = value;
  }
  absl::Duration d;
  if (node.GetDuration("min_duration", &d)) rule->min_duration = d;
  if (node.GetDuration("max_duration", &d)) rule->max_duration = d;
  if (rule->min_duration && rule->max_duration && *rule->min_duration > *rule->max_duration) {
    node.Error("min_duration", "\"min_duration\" is greater than \"max_duration\"");
  }
  ParseAttributes(node, &rule->attributes);
  node.Get("drop", &rule->drop);
  const bool has_percentage = node.Has("sampling_percentage");
  ParsePercentage(node, "sampling_percentage", &rule->sampling_percentage);
  if (rule->drop && has_percentage) {
    node.Error("drop", "give \"drop\" or \"sampling_percentage\", not both");
  } else if (!rule->drop && !has_percentage) {
    node.Error("", "a rule needs \"sampling_percentage\" or \"drop: true\"");
  }
}

class RuleSamplerFactory : public ProcessorFactory {
 public:
  std::string_view type() const override { return "rule_sampler"; }
  SignalSet signals() const override { return SignalSet{Signal::kTraces}; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<RuleSamplerConfig>();
    RuleSamplerConfig& c = *config;
    ParsePercentage(node, "default_sampling_percentage", &c.default_sampling_percentage);
    node.Get("sampling_precision", &c.sampling_precision);
    if (c.sampling_precision < 1 || c.sampling_precision > consistent_sampling::kMaxPrecision) {
      node.Error("sampling_precision", "must be between 1 and 14");
    }
    node.Get("fail_closed", &c.fail_closed);
    node.MarkKnown("rules");
    if (node.Has("rules")) {
      const YAML::Node list = node.yaml()["rules"];
      if (!list.IsSequence()) {
        node.Error("rules", "expected a list");
      } else {
        std::set<std::string> names;
        const std::string prefix = node.path().empty() ? "rules" : node.path() + "::rules";
        for (size_t i = 0; i < list.size(); ++i) {
          ConfigNode item(list[i], absl::StrCat(prefix, "[", i, "]"), node.diagnostics());
          if (!list[i].IsMap()) {
            item.Error("", "expected a rule (a map)");
            continue;
          }
          SamplingRule rule;
          ParseRule(item, &rule);
          if (!rule.name.empty() && !names.insert(rule.name).second) {
            item.Error("name", absl::StrCat("duplicate rule name \"", rule.name, "\""));
          }
          item.ReportUnknownKeys();
          c.rules.push_back(std::move(rule));
        }
      }
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config, Signal signal,
                                                    ConsumerPtr next) const override {
    (void)signal;
    if (next == nullptr) {
      return absl::InvalidArgumentError("rule_sampler processor needs a next consumer");
    }
    return std::make_unique<RuleSampler>(settings, ConfigAs<RuleSamplerConfig>(config),
                                         std::move(next));
  }
};

}  // namespace

std::unique_ptr<ProcessorFactory> NewRuleSamplerFactory() {
  return std::make_unique<RuleSamplerFactory>();
}

}  // namespace otlpd
