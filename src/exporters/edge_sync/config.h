#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "core/compression.h"
#include "core/exporter_helper.h"
#include "core/factory.h"
#include "core/tls_config.h"
#include "storage/durable_queue.h"

namespace otlpd {

enum class EdgeProtocol { kGrpc, kHttp };
enum class EdgeBalancing { kRoundRobin, kLeastPending, kTraceId };

// A circuit breaker per endpoint: closed → open after `failure_threshold` consecutive
// failed attempts → after `open_duration`, half-open: `half_open_requests` probes → closed
// on success, open again on failure.
struct CircuitBreakerSettings {
  int failure_threshold = 5;
  absl::Duration open_duration = absl::Seconds(5);
  int half_open_requests = 1;
};

// The "edge_sync" exporter (ours): store-and-forward through a queue directory of its own.
class EdgeSyncConfig : public ComponentConfig {
 public:
  std::string directory;  // default ./data/edge_sync/<exporter name>
  storage::Durability durability = storage::Durability::kFsync;
  EdgeProtocol protocol = EdgeProtocol::kGrpc;
  std::vector<std::string> endpoints;  // host:port (grpc) or base URLs (http)
  TlsClientSettings tls;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<ComponentId> authenticator;  // auth::authenticator
  absl::Duration timeout = absl::Seconds(10);

  uint64_t max_size = uint64_t{1} << 30;  // queued bytes
  storage::WhenFull when_full = storage::WhenFull::kRefuse;
  uint64_t max_batch_bytes = uint64_t{4} << 20;
  std::optional<Compression> compression;  // empty: auto
  bool prefer_bandwidth = true;            // auto's weighting: bandwidth or cpu
  int concurrency = 4;
  RetrySettings retry;
  std::string dead_letter_directory;  // default <directory>/dead_letter
  CircuitBreakerSettings circuit_breaker;
  EdgeBalancing balancing = EdgeBalancing::kRoundRobin;
  uint64_t max_bandwidth = 0;  // bytes/s on the wire; 0 = unlimited
  storage::ReadOrder drain_order = storage::ReadOrder::kOldestFirst;
  // While a backlog drains, every other send takes data younger than this (0: off).
  absl::Duration live_window = absl::Seconds(10);
};

}  // namespace otlpd
