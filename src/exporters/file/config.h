#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "core/factory.h"

namespace otlpd {

// How rotated backups are compressed (otlpd extension: rotation.compression).
enum class BackupCompression { kNone, kGzip, kZstd };

// otelcol's file exporter "rotation" block (lumberjack settings, same defaults).
struct FileRotationConfig {
  bool enabled = false;  // rotation happens only when the block is present
  int64_t max_megabytes = 100;
  int64_t max_days = 0;       // 0: keep backups regardless of age
  int64_t max_backups = 100;  // 0: keep all
  bool localtime = false;     // backup timestamps in local time instead of UTC
  BackupCompression compression = BackupCompression::kNone;
};

// otelcol's file exporter settings: OTLP/JSON lines, one Export request per line.
struct FileExporterConfig : ComponentConfig {
  std::string path;
  std::string format = "json";
  bool append = false;  // without rotation: keep the existing content instead of truncating
  // 0 (otlpd's default; otelcol's is 1s): each request is written as it comes, so no
  // latency is added to its acknowledgement. > 0: group commit, the lines of concurrent
  // requests share one write at most this long after the first of them (see FileExporter).
  absl::Duration flush_interval = absl::ZeroDuration();
  FileRotationConfig rotation;
};

}  // namespace otlpd
