#include "testing/configs.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "testing/ports.h"

namespace otlpd::testing {

std::map<std::string, std::string> PortVars(std::initializer_list<std::string_view> extra) {
  std::map<std::string, std::string> vars;
  for (const char* name : {"GRPC_PORT", "HTTP_PORT", "HEALTH_PORT", "METRICS_PORT"}) {
    vars[name] = absl::StrCat(FreePort());
  }
  for (std::string_view name : extra) vars[std::string(name)] = absl::StrCat(FreePort());
  return vars;
}

int PortOf(const std::map<std::string, std::string>& vars, const std::string& name) {
  auto it = vars.find(name);
  if (it == vars.end()) std::abort();
  return std::atoi(it->second.c_str());
}

std::string SinkFileName(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return "traces.jsonl";
    case Signal::kMetrics:
      return "metrics.jsonl";
    case Signal::kLogs:
      return "logs.jsonl";
  }
  return "";
}

std::string FileSinkConfig(std::string_view processors, std::string_view processor_definitions) {
  constexpr char kTemplate[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
PROCESSOR_DEFINITIONS
exporters:
  file/traces:
    path: {{DIR}}/traces.jsonl
  file/metrics:
    path: {{DIR}}/metrics.jsonl
  file/logs:
    path: {{DIR}}/logs.jsonl
extensions:
  health_check:
    endpoint: 127.0.0.1:{{HEALTH_PORT}}
service:
  extensions: [health_check]
  telemetry:
    logs:
      level: info
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: PROCESSORS
      exporters: [file/traces]
    metrics:
      receivers: [otlp]
      processors: PROCESSORS
      exporters: [file/metrics]
    logs:
      receivers: [otlp]
      processors: PROCESSORS
      exporters: [file/logs]
)";
  std::string definitions;
  if (!processor_definitions.empty()) {
    definitions = absl::StrCat("processors:\n", std::string(processor_definitions));
  }
  return absl::StrReplaceAll(kTemplate, {{"PROCESSOR_DEFINITIONS\n", definitions},
                                         {"PROCESSORS", std::string(processors)}});
}

}  // namespace otlpd::testing
