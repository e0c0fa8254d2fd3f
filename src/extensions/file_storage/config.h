#pragma once

#include <string>

#include "absl/time/time.h"
#include "core/factory.h"

namespace otlpd {

// otelcol-contrib's file_storage keys. Defaults differ where our acknowledgement contract
// needs it: fsync is on (an exporter's Offer completes only once its request is on disk).
struct FileStorageConfig : ComponentConfig {
  std::string directory = "./data/file_storage";
  bool create_directory = false;  // as otelcol: a missing directory is an error
  bool fsync = true;  // false: written before the ack (survives kill -9), synced every 2 ms
  absl::Duration timeout = absl::Seconds(1);  // accepted for otelcol configs; not needed
};

}  // namespace otlpd
