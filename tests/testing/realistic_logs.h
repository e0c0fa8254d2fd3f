// Deterministic realistic OTLP logs for storage benchmarks: a dozen services with a few pods
// each, handling requests that each log a few lines (sign-ins, SQL timings, cache misses,
// order and payment events, a stack trace on errors, and an HTTP access line at the end)
// with ids, numbers and user names filled in; a realistic severity mix (mostly INFO, some
// DEBUG/WARN, ~2 % ERROR); code.* and thread attributes. 4 of 5 requests are traced: their
// lines carry the request's random trace id and its server span's id (a quarter of them a
// child span's), as SDK log bridges attach them. Requests interleave. Go services log
// nanosecond times, Java ones milliseconds; the SDK's observed time follows by microseconds.
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
