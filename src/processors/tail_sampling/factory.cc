#include "processors/tail_sampling/factory.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "processors/tail_sampling/config.h"
#include "processors/tail_sampling/policy.h"
#include "processors/tail_sampling/tail_sampling_processor.h"
#include "storage/segment_log.h"

namespace otlpd {

namespace {

void ParsePolicyList(ConfigNode& node, std::string_view key, int depth,
                     std::vector<TailPolicyConfig>* out);

// One policy map: name, type and the block named after the type.
void ParsePolicy(ConfigNode& item, int depth, TailPolicyConfig* p) {
  if (!item.Get("name", &p->name) || p->name.empty()) item.Error("name", "policy needs a name");
  if (!item.GetEnum(
          "type", &p->type,
          {"always_sample", "latency", "numeric_attribute", "probabilistic", "status_code",
           "string_attribute", "rate_limiting", "bytes_limiting", "span_count", "trace_state",
           "boolean_attribute", "and", "drop", "not", "composite"})) {
    if (!item.Has("type")) item.Error("", "policy needs a type");
    return;
  }
  ConfigNode c = item.Child(p->type);
  const std::string& t = p->type;
  if (t == "latency") {
    c.Get("threshold_ms", &p->threshold_ms);
    c.Get("upper_threshold_ms", &p->upper_threshold_ms);
    if (p->upper_threshold_ms != 0 && p->upper_threshold_ms < p->threshold_ms) {
      c.Error("upper_threshold_ms", "upper_threshold_ms must be at least threshold_ms");
    }
  } else if (t == "numeric_attribute") {
    if (!c.Get("key", &p->key)) c.Error("key", "numeric_attribute needs a key");
    p->has_min = c.Get("min_value", &p->min_value);
    p->has_max = c.Get("max_value", &p->max_value);
    c.Get("invert_match", &p->invert_match);
    if (!p->has_min && !p->has_max) {
      c.Error("", "numeric_attribute needs min_value or max_value");
    } else if (p->has_min && p->has_max && p->max_value < p->min_value) {
      c.Error("max_value", "max_value must be at least min_value");
    }
  } else if (t == "string_attribute") {
    if (!c.Get("key", &p->key)) c.Error("key", "string_attribute needs a key");
    if (!c.Get("values", &p->values) || p->values.empty()) {
      c.Error("values", "string_attribute needs values");
    }
    c.Get("enabled_regex_matching", &p->enabled_regex_matching);
    c.Get("cache_max_size", &p->cache_max_size);
    c.Get("invert_match", &p->invert_match);
  } else if (t == "boolean_attribute") {
    if (!c.Get("key", &p->key)) c.Error("key", "boolean_attribute needs a key");
    c.Get("value", &p->bool_value);
    c.Get("invert_match", &p->invert_match);
  } else if (t == "trace_state") {
    if (!c.Get("key", &p->key)) c.Error("key", "trace_state needs a key");
    if (!c.Get("values", &p->values) || p->values.empty()) {
      c.Error("values", "trace_state needs values");
    }
  } else if (t == "probabilistic") {
    c.Get("hash_salt", &p->hash_salt);
    c.Get("sampling_percentage", &p->sampling_percentage);
    if (!(p->sampling_percentage >= 0 && p->sampling_percentage <= 100)) {
      c.Error("sampling_percentage", "sampling_percentage must be in [0, 100]");
    }
  } else if (t == "status_code") {
    if (!c.Get("status_codes", &p->status_codes) || p->status_codes.empty()) {
      c.Error("status_codes", "status_code needs status_codes");
    }
    for (const std::string& s : p->status_codes) {
      if (s != "OK" && s != "ERROR" && s != "UNSET") {
        c.Error("status_codes",
                absl::StrCat("unknown status code \"", s, "\" (OK, ERROR or UNSET)"));
      }
    }
  } else if (t == "rate_limiting") {
    if (!c.Get("spans_per_second", &p->spans_per_second) || p->spans_per_second <= 0) {
      c.Error("spans_per_second", "spans_per_second must be positive");
    }
  } else if (t == "bytes_limiting") {
    if (!c.Get("bytes_per_second", &p->bytes_per_second) || p->bytes_per_second <= 0) {
      c.Error("bytes_per_second", "bytes_per_second must be positive");
    }
    if (c.Get("burst_capacity", &p->burst_capacity) && p->burst_capacity < 0) {
      c.Error("burst_capacity", "burst_capacity must not be negative");
    }
  } else if (t == "span_count") {
    c.Get("min_spans", &p->min_spans);
    c.Get("max_spans", &p->max_spans);
    if (p->max_spans != 0 && p->max_spans < p->min_spans) {
      c.Error("max_spans", "max_spans must be at least min_spans");
    }
  } else if (t == "and" || t == "drop" || t == "not" || t == "composite") {
    if (depth >= 2) {
      item.Error("type", absl::StrCat(t, " cannot be nested this deep"));
      return;
    }
    ParsePolicyList(c, absl::StrCat(t == "composite" ? "composite" : t, "_sub_policy"), depth + 1,
                    &p->sub_policies);
    if (t == "not" && p->sub_policies.size() > 1) {
      c.Error("not_sub_policy", "not takes exactly one sub-policy");
    }
    if (t == "composite") {
      if (!c.Get("max_total_spans_per_second", &p->max_total_spans_per_second) ||
          p->max_total_spans_per_second <= 0) {
        c.Error("max_total_spans_per_second", "max_total_spans_per_second must be positive");
      }
      c.Get("policy_order", &p->policy_order);
      std::set<std::string> names;
      for (const TailPolicyConfig& s : p->sub_policies) names.insert(s.name);
      for (const std::string& n : p->policy_order) {
        if (!names.contains(n)) {
          c.Error("policy_order", absl::StrCat("\"", n, "\" is not a composite_sub_policy"));
        }
      }
      c.MarkKnown("rate_allocation");
      YAML::Node list = c.yaml()["rate_allocation"];
      int64_t total = 0;
      if (list && list.IsSequence()) {
        for (size_t i = 0; i < list.size(); ++i) {
          ConfigNode a(list[i], absl::StrCat(c.path(), "::rate_allocation[", i, "]"),
                       c.diagnostics());
          std::string policy;
          int64_t percent = 0;
          if (!a.Get("policy", &policy) || !names.contains(policy)) {
            a.Error("policy", "rate_allocation names no composite_sub_policy");
          }
          if (!a.Get("percent", &percent) || percent <= 0 || percent > 100) {
            a.Error("percent", "percent must be in (0, 100]");
          }
          total += percent;
          p->rate_allocation.emplace_back(policy, percent);
          a.ReportUnknownKeys();
        }
      } else if (list && !list.IsNull()) {
        c.Error("rate_allocation", "expected a list");
      }
      if (total > 100) c.Error("rate_allocation", "rate_allocation percents add up to over 100");
    }
  }
}

void ParsePolicyList(ConfigNode& node, std::string_view key, int depth,
                     std::vector<TailPolicyConfig>* out) {
  node.MarkKnown(key);
  YAML::Node list = node.yaml()[std::string(key)];
  if (!list || list.IsNull() || (list.IsSequence() && list.size() == 0)) {
    node.Error(node.Has(key) ? key : "",
               absl::StrCat("missing required field \"", std::string(key), "\""));
    return;
  }
  if (!list.IsSequence()) {
    node.Error(key, "expected a list");
    return;
  }
  const std::string prefix =
      node.path().empty() ? std::string(key) : absl::StrCat(node.path(), "::", std::string(key));
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    ConfigNode item(list[i], absl::StrCat(prefix, "[", i, "]"), node.diagnostics());
    TailPolicyConfig p;
    ParsePolicy(item, depth, &p);
    if (!p.name.empty() && !names.insert(p.name).second) {
      item.Error("name", absl::StrCat("duplicate policy name \"", p.name, "\""));
    }
    item.ReportUnknownKeys();
    out->push_back(std::move(p));
  }
}

class TailSamplingProcessorFactory : public ProcessorFactory {
 public:
  std::string_view type() const override { return "tail_sampling"; }
  SignalSet signals() const override { return {Signal::kTraces}; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<TailSamplingConfig>();
    if (node.GetDuration("decision_wait", &config->decision_wait) &&
        config->decision_wait <= absl::ZeroDuration()) {
      node.Error("decision_wait", "decision_wait must be positive");
    }
    if (node.Get("num_traces", &config->num_traces) && config->num_traces <= 0) {
      node.Error("num_traces", "num_traces must be positive");
    }
    node.Get("expected_new_traces_per_sec", &config->expected_new_traces_per_sec);
    ConfigNode cache = node.Child("decision_cache");
    if (cache.Get("sampled_cache_size", &config->sampled_cache_size) &&
        config->sampled_cache_size < 0) {
      cache.Error("sampled_cache_size", "sampled_cache_size must not be negative");
    }
    if (cache.Get("non_sampled_cache_size", &config->non_sampled_cache_size) &&
        config->non_sampled_cache_size < 0) {
      cache.Error("non_sampled_cache_size", "non_sampled_cache_size must not be negative");
    }
    node.Get("sample_on_first_match", &config->sample_on_first_match);
    node.Get("drop_pending_traces_on_shutdown", &config->drop_pending_traces_on_shutdown);
    node.GetBytes("maximum_trace_size_bytes", &config->maximum_trace_size_bytes);
    node.Get("directory", &config->directory);
    if (node.GetBytes("max_buffer_bytes", &config->max_buffer_bytes) &&
        config->max_buffer_bytes < (uint64_t{1} << 16)) {
      node.Error("max_buffer_bytes", "max_buffer_bytes must be at least 64KiB");
    }
    node.GetEnum("durability", &config->durability, {"fsync", "batch", "none"});
    ParsePolicyList(node, "policies", 0, &config->policies);
    // What the policies' constructors check (regexes) is checked here too, so that
    // `otlpd validate` finds it.
    for (const TailPolicyConfig& p : config->policies) {
      absl::StatusOr<std::unique_ptr<tail::Policy>> built = tail::BuildPolicy(p);
      if (!built.ok() && !p.type.empty())
        node.Error("policies", std::string(built.status().message()));
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config, Signal signal,
                                                    ConsumerPtr next) const override {
    if (next == nullptr) return absl::InvalidArgumentError("tail_sampling needs a next consumer");
    if (signal != Signal::kTraces) {
      return absl::InvalidArgumentError("tail_sampling takes traces only");
    }
    const auto& c = ConfigAs<TailSamplingConfig>(config);
    std::vector<std::unique_ptr<tail::Policy>> policies;
    for (const TailPolicyConfig& p : c.policies) {
      absl::StatusOr<std::unique_ptr<tail::Policy>> built = tail::BuildPolicy(p);
      if (!built.ok()) return built.status();
      policies.push_back(*std::move(built));
    }
    return std::make_unique<TailSamplingProcessor>(settings, c, std::move(next),
                                                   std::move(policies));
  }
};

}  // namespace

std::unique_ptr<ProcessorFactory> NewTailSamplingProcessorFactory() {
  return std::make_unique<TailSamplingProcessorFactory>();
}

}  // namespace otlpd
