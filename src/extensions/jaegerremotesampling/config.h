#pragma once

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "core/factory.h"
#include "extensions/jaegerremotesampling/adaptive.h"

namespace otlpd {

// otelcol's jaegerremotesampling settings (http.endpoint, source.file,
// source.reload_interval), and ours: source.adaptive. Exactly one source.
struct JaegerRemoteSamplingConfig : ComponentConfig {
  std::string http_endpoint = "127.0.0.1:5778";
  std::string file;                                       // source.file
  absl::Duration reload_interval = absl::ZeroDuration();  // 0: read once
  std::optional<AdaptiveSamplingConfig> adaptive;         // source.adaptive
};

}  // namespace otlpd
