#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/synchronization/mutex.h"
#include "core/component.h"
#include "core/exporter_metrics.h"
#include "exporters/debug/config.h"

namespace otlpd {

// The text the debug exporter logs for one request.
std::string DescribeTelemetry(const Telemetry& data, DebugVerbosity verbosity,
                              const std::string& component_id);

// otelcol's debug exporter. Logs through spdlog's default logger at info level.
class DebugExporter : public Exporter {
 public:
  DebugExporter(const CreateSettings& settings, const DebugExporterConfig& config);

  void Consume(TelemetryPtr data, Completion done) override;

 private:
  // zap-style sampling, per signal and one-second window.
  bool Sample(Signal signal);

  const std::string id_;
  const DebugExporterConfig config_;
  ExporterMetrics metrics_;

  absl::Mutex mu_;
  struct Window {
    int64_t second = -1;
    int64_t count = 0;
  };
  std::array<Window, 3> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otlpd
