#include "processors/filter/factory.h"

#include "absl/strings/str_cat.h"
#include "processors/filter/config.h"
#include "processors/filter/filter_processor.h"

namespace otlpd {

namespace {

using Conditions = FilterProcessorConfig::Conditions;

// The list of OTTL conditions at `key` of `node`, each parsed for `context`; a condition
// that does not parse is reported with its own line.
std::shared_ptr<const Conditions> ParseConditions(ConfigNode& node, std::string_view key,
                                                  ottl::Context context) {
  node.MarkKnown(key);
  if (!node.IsDefined() || !node.Has(key)) return nullptr;
  const YAML::Node list = node.yaml()[std::string(key)];
  if (!list.IsDefined() || list.IsNull()) return nullptr;
  if (!list.IsSequence()) {
    node.Error(key, "expected a list of OTTL conditions");
    return nullptr;
  }
  auto out = std::make_shared<Conditions>();
  const std::string prefix = absl::StrCat(node.path(), "::", std::string(key));
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    ConfigError e;
    e.path = absl::StrCat(prefix, "[", i, "]");
    if (item.Mark().line >= 0) {
      e.line = item.Mark().line + 1;
      e.column = item.Mark().column + 1;
    }
    if (!item.IsScalar()) {
      e.message = "expected an OTTL condition (a string)";
      node.diagnostics()->Add(std::move(e));
      continue;
    }
    const std::string text = ExpandEnv(item.Scalar());
    absl::StatusOr<ottl::Condition> c = ottl::Condition::Parse(text, context);
    if (!c.ok()) {
      e.message =
          absl::StrCat("condition \"", text, "\" (", std::string(ottl::ContextName(context)),
                       " context): ", std::string(c.status().message()));
      node.diagnostics()->Add(std::move(e));
      continue;
    }
    out->push_back(std::move(*c));
  }
  return out;
}

// The legacy include/exclude of `spans` (otelcol's filterconfig.MatchProperties).
std::optional<MatchProperties> ParseSpanMatch(ConfigNode& node, std::string_view key) {
  bool present = false;
  ConfigNode child = node.Child(key, &present);
  if (!present || !child.IsDefined()) return std::nullopt;
  const size_t errors_before = node.diagnostics()->errors().size();
  MatchProperties mp = ParseMatchProperties(child);
  if (node.diagnostics()->errors().size() != errors_before) return mp;
  if (mp.Empty()) {
    node.Error(key,
               "at least one of \"services\", \"span_names\", \"span_kinds\", \"attributes\", "
               "\"resources\" or \"libraries\" must be specified");
  } else if (const std::string& why = mp.invalid_for[static_cast<int>(Signal::kTraces)];
             !why.empty()) {
    node.Error(key, why);
  }
  return mp;
}

// otelcol's legacy include/exclude for logs and metrics use match properties of their own
// (record_attributes, metric_names with expr, ...): refused with what to write instead.
void RefuseLegacy(ConfigNode& signal_node, std::string_view replacement) {
  for (std::string_view key : {"include", "exclude"}) {
    if (signal_node.Has(key)) {
      signal_node.KeyError(key, absl::StrCat("the legacy include/exclude settings are not "
                                             "supported for this signal; write OTTL conditions "
                                             "under ",
                                             std::string(replacement), " instead"));
      signal_node.MarkKnown(key);
    }
  }
}

class FilterProcessorFactory : public ProcessorFactory {
 public:
  std::string_view type() const override { return "filter"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<FilterProcessorConfig>();
    std::string mode;
    if (node.GetEnum("error_mode", &mode, {"propagate", "ignore", "silent"})) {
      config->error_mode = mode == "ignore"   ? FilterProcessorConfig::ErrorMode::kIgnore
                           : mode == "silent" ? FilterProcessorConfig::ErrorMode::kSilent
                                              : FilterProcessorConfig::ErrorMode::kPropagate;
    }
    ConfigNode traces = node.Child("traces");
    config->span = ParseConditions(traces, "span", ottl::Context::kSpan);
    config->spanevent = ParseConditions(traces, "spanevent", ottl::Context::kSpanEvent);
    ConfigNode metrics = node.Child("metrics");
    config->metric = ParseConditions(metrics, "metric", ottl::Context::kMetric);
    config->datapoint = ParseConditions(metrics, "datapoint", ottl::Context::kDataPoint);
    RefuseLegacy(metrics, "metrics::metric or metrics::datapoint");
    ConfigNode logs = node.Child("logs");
    config->log_record = ParseConditions(logs, "log_record", ottl::Context::kLog);
    RefuseLegacy(logs, "logs::log_record");

    ConfigNode spans = node.Child("spans");
    config->spans_include = ParseSpanMatch(spans, "include");
    config->spans_exclude = ParseSpanMatch(spans, "exclude");
    if ((config->spans_include || config->spans_exclude) && (config->span || config->spanevent)) {
      node.KeyError("spans",
                    "cannot use OTTL conditions (traces) and include/exclude (spans) at the same "
                    "time");
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config, Signal signal,
                                                    ConsumerPtr next) const override {
    if (next == nullptr)
      return absl::InvalidArgumentError("filter processor needs a next consumer");
    return std::make_unique<FilterProcessor>(settings, ConfigAs<FilterProcessorConfig>(config),
                                             signal, std::move(next));
  }
};

}  // namespace

std::unique_ptr<ProcessorFactory> NewFilterProcessorFactory() {
  return std::make_unique<FilterProcessorFactory>();
}

}  // namespace otlpd
