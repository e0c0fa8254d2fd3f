#include "processors/attributes/factory.h"

#include "absl/strings/str_cat.h"
#include "processors/attributes/attributes_processor.h"
#include "processors/attributes/config.h"

namespace otlpd {

namespace {

// include/exclude, when given (a null value counts as not given, as in otelcol).
std::optional<MatchProperties> ParseMatch(ConfigNode& node, std::string_view key) {
  bool present = false;
  ConfigNode child = node.Child(key, &present);
  if (!present || !child.IsDefined()) return std::nullopt;
  const size_t errors_before = node.diagnostics()->errors().size();
  MatchProperties mp = ParseMatchProperties(child);
  // An entry already refused (and so left out) is reported once, not again as what is missing.
  if (node.diagnostics()->errors().size() != errors_before) return mp;
  // Properties no signal can use are wrong wherever the processor is used: said here, with
  // their place, rather than only when a pipeline creates it.
  const auto& why = mp.invalid_for;
  if (mp.Empty()) {
    node.Error(key,
               "at least one of \"services\", \"span_names\", \"span_kinds\", \"attributes\", "
               "\"resources\", \"libraries\", \"log_bodies\", \"log_severity_texts\", "
               "\"log_severity_number\" or \"metric_names\" field must be specified");
  } else if (!why[0].empty() && !why[1].empty() && !why[2].empty()) {
    node.Error(key, absl::StrCat("not valid for any signal: traces: ",
                                 why[static_cast<int>(Signal::kTraces)],
                                 "; metrics: ", why[static_cast<int>(Signal::kMetrics)],
                                 "; logs: ", why[static_cast<int>(Signal::kLogs)]));
  }
  return mp;
}

class AttributesProcessorFactory : public ProcessorFactory {
 public:
  std::string_view type() const override { return "attributes"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<AttributesProcessorConfig>();
    config->actions = attraction::ParseActions(node, "actions");
    config->include = ParseMatch(node, "include");
    config->exclude = ParseMatch(node, "exclude");
    return config;
  }

  absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config, Signal signal,
                                                    ConsumerPtr next) const override {
    if (next == nullptr) {
      return absl::InvalidArgumentError("attributes processor needs a next consumer");
    }
    const auto& c = ConfigAs<AttributesProcessorConfig>(config);
    // Which properties fit depends on the pipeline's signal (otelcol's ValidateFor*).
    for (const auto& [name, mp] : {std::pair{"include", &c.include}, {"exclude", &c.exclude}}) {
      if (*mp && !(*mp)->invalid_for[static_cast<int>(signal)].empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": ", (*mp)->invalid_for[static_cast<int>(signal)], " (",
                         std::string(SignalName(signal)), " pipeline)"));
      }
    }
    return std::make_unique<AttributesProcessor>(settings, c, signal, std::move(next));
  }
};

}  // namespace

std::unique_ptr<ProcessorFactory> NewAttributesProcessorFactory() {
  return std::make_unique<AttributesProcessorFactory>();
}

}  // namespace otlpd
