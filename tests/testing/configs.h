#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/signal.h"

namespace otlpd::testing {

// Fresh ports for a daemon config: GRPC_PORT, HTTP_PORT, HEALTH_PORT, METRICS_PORT (as
// strings, ready for Substitute) plus any `extra` names given.
std::map<std::string, std::string> PortVars(std::initializer_list<std::string_view> extra = {});
int PortOf(const std::map<std::string, std::string>& vars, const std::string& name);

// The usual daemon for end-to-end tests: otlp receiver on gRPC and HTTP, one file exporter
// per signal writing to {{DIR}}/<signal>.jsonl, health_check on HEALTH_PORT and self-metrics
// on METRICS_PORT. `processors` is the pipelines' processor list, e.g. "[batch]", and
// `processor_definitions` the YAML under the top-level "processors:" key (indented by two),
// e.g. "  batch:\n    timeout: 200ms\n".
std::string FileSinkConfig(std::string_view processors = "[]",
                           std::string_view processor_definitions = "");

// Where FileSinkConfig's exporter for `signal` writes, relative to the daemon dir.
std::string SinkFileName(Signal signal);

}  // namespace otlpd::testing
