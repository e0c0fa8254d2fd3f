#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "core/component.h"
#include "core/factory.h"
#include "core/tls_config.h"

namespace otlpd {

// `extensions: query:` — the read API over a store (Jaeger's HTTP API, api_v3, our logs and
// metrics API).
struct QueryConfig : ComponentConfig {
  std::string endpoint = "127.0.0.1:16686";  // Jaeger query's port
  // Prefix of every route, like Jaeger's --query.base-path: "/" or "/jaeger" (no trailing '/').
  std::string base_path = "/";
  TlsServerSettings tls;
  // The exporter that owns the store (a storage::StoreReaderProvider), looked up on the first
  // request because exporters are created after extensions.
  ComponentId storage{"tiered_storage", ""};
  // Cap on every `limit` (traces, logs); larger requests are cut to it, as Jaeger's UI does.
  int64_t max_limit = 1500;
  // Window of a search without `start` (Jaeger's --query.lookback default: 2 days).
  absl::Duration default_lookback = absl::Hours(48);
  int threads = 2;  // HTTP server threads; each runs one store query at a time
};

}  // namespace otlpd
