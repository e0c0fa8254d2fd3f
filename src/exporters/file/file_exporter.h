#pragma once

#include <memory>

#include "core/component.h"
#include "core/exporter_metrics.h"
#include "exporters/file/config.h"
#include "exporters/file/rotating_file.h"

namespace otlpd {

// otelcol's file exporter: every request becomes one line of OTLP/JSON in one file (all
// signals share it). A request completes OK once its line has been written to the file.
class FileExporter : public Exporter {
 public:
  FileExporter(const CreateSettings& settings, const FileExporterConfig& config);

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

 private:
  const std::string path_;
  RotatingFile file_;
  ExporterMetrics metrics_;
};

}  // namespace otlpd
