#pragma once

#include <optional>

#include "absl/strings/string_view.h"
#include "core/http_server.h"
#include "extensions/query/api_common.h"

namespace otlpd::query {

// Our logs and metrics API, in Jaeger's envelope ({"data","total","limit","offset","errors"},
// errors as [{"code","msg"}]). Times in parameters: RFC 3339 or Unix seconds (a fraction
// allowed), as Prometheus takes them; without `start` the window is config.default_lookback
// back from `end` (default now). nullopt when `route` is not one of:
//
// GET /api/v1/logs?q=words&service=&traceId=&severity=&start=&end=&limit=
//   Records whose body holds every word of q (case-insensitive), of the service, carrying the
//   trace id (hex), with at least the severity (1..24 or TRACE/DEBUG/INFO/WARN/ERROR/FATAL),
//   newest first, at most limit (default 100, capped at max_limit). data: the records as
//   logs_json.h writes them; total: how many.
//
// GET /api/v1/metrics?name=&match[key]=value&start=&end=&step=&quantile=0.5,0.95,0.99
//   The series of metric `name` (required) whose data point or resource attributes equal
//   every match[key]. Points go into step buckets [t, t+step) aligned to multiples of step
//   since the epoch (step: "30s" or seconds; default (end−start)/300, at least 1 s; at most
//   11,000 buckets). data:
//   {"name", "start", "end", "step" (ms),
//    "series": [{"type": "gauge"|"sum"|"histogram"|"exponential_histogram"|"summary",
//                "unit", "description", "monotonic" (sums), "temporality" ("cumulative" |
//                "delta", sums and histograms),
//                "value": what points hold — "last" (gauges, non-monotonic sums: the last
//                value in the bucket), "rate" (monotonic sums: per-second rate, counter
//                resets handled, see metrics_math.h) or "quantiles" (histograms: quantiles
//                of the observations that arrived in the bucket, linear interpolation
//                within buckets; summaries: the reported quantiles of the bucket's last
//                point),
//                "resource": {attributes}, "scope": {"name","version"}, "attributes": {...},
//                "points": [{"timestamp": bucket start in Unix ms, "value": x}] or, for
//                quantiles, [{"timestamp", "count", "sum", "quantiles": {"0.5": x|null}}]}]}
//   total: the number of series.
std::optional<HttpResponse> HandleApiV1(const HttpRequest& request, absl::string_view route,
                                        ApiContext& context);

}  // namespace otlpd::query
