// Deterministic realistic OTLP logs for storage benchmarks: a dozen services with a few pods
// each, application log lines from per-service templates (HTTP access lines, SQL timings,
// cache misses, payment and auth events, stack traces on errors) with ids, numbers and
// user names filled in, a realistic severity mix (mostly INFO, some DEBUG/WARN, ~2 % ERROR),
// code.* and thread attributes, and trace context on about a third of the records
// (random 16/8-byte ids, as SDK log bridges attach them inside spans).
#pragma once

#include <cstddef>
#include <random>

#include "absl/time/time.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"

namespace otlpd::bench {

using LogsRequest = opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;

// About `records` log records received around `start`, grouped by pod and scope as a
// collector's batch is.
LogsRequest MakeRealisticLogs(std::mt19937_64& rng, size_t records, absl::Time start);

}  // namespace otlpd::bench
