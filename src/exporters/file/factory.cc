#include "exporters/file/factory.h"

#include "exporters/file/config.h"
#include "exporters/file/file_exporter.h"

namespace otlpd {

namespace {

class FileExporterFactory : public ExporterFactory {
 public:
  std::string_view type() const override { return "file"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<FileExporterConfig>();
    FileExporterConfig& c = *config;
    if (!node.Get("path", &c.path) || c.path.empty()) {
      node.Error("path", "path must be non-empty");
    }
    if (node.Get("format", &c.format) && c.format != "json") {
      if (c.format == "proto") {
        node.Error("format", "format \"proto\" is not supported by otlpd; use \"json\"");
      } else {
        node.Error("format", "format type is not supported (only \"json\")");
      }
    }
    node.Get("append", &c.append);
    if (node.GetDuration("flush_interval", &c.flush_interval) &&
        c.flush_interval < absl::ZeroDuration()) {
      node.Error("flush_interval", "flush_interval must be larger than zero");
    }
    bool present = false;
    ConfigNode rotation = node.Child("rotation", &present);
    if (present) {
      FileRotationConfig& r = c.rotation;
      r.enabled = true;
      rotation.Get("max_megabytes", &r.max_megabytes);
      rotation.Get("max_days", &r.max_days);
      rotation.Get("max_backups", &r.max_backups);
      rotation.Get("localtime", &r.localtime);
      std::string compression = "none";
      if (rotation.GetEnum("compression", &compression, {"none", "gzip", "zstd"})) {
        r.compression = compression == "gzip"   ? BackupCompression::kGzip
                        : compression == "zstd" ? BackupCompression::kZstd
                                                : BackupCompression::kNone;
      }
      if (r.max_megabytes <= 0) rotation.Error("max_megabytes", "max_megabytes must be positive");
      if (r.max_days < 0) rotation.Error("max_days", "max_days must not be negative");
      if (r.max_backups < 0) rotation.Error("max_backups", "max_backups must not be negative");
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Exporter>> Create(const CreateSettings& settings,
                                                   const ComponentConfig& config) const override {
    return std::make_unique<FileExporter>(settings, ConfigAs<FileExporterConfig>(config));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> NewFileExporterFactory() {
  return std::make_unique<FileExporterFactory>();
}

}  // namespace otlpd
