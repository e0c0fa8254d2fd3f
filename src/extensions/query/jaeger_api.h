#pragma once

#include <optional>

#include "absl/strings/string_view.h"
#include "core/http_server.h"
#include "extensions/query/api_common.h"

namespace otlpd::query {

// Jaeger query's HTTP API (cmd/query/app/http_handler.go), as Jaeger UI 1.x and Grafana's
// Jaeger data source call it. `route` is the request path without the base path. nullopt
// when the route is not one of these:
//   /api/services                         data: names, total: count
//   /api/services/{service}/operations    data: names, total: count
//   /api/operations?service=&spanKind=    data: [{name, spanKind}], total: count
//   /api/traces?service=&operation=&tag=k:v&tags={json}&minDuration=&maxDuration=&start=&end=
//              &limit=&lookback=&traceID=  data: traces (Jaeger JSON, see jaeger_json.h)
//   /api/traces/{traceID}[?logs=true]      data: [trace]; with logs=true the trace object
//                                          also holds "logs": the log records carrying its
//                                          trace id, oldest first (see logs_json.h)
//   /api/dependencies?endTs=&lookback=&service=   data: [{parent, child, callCount}]
//   /api/metrics/...                      501, as Jaeger without a metrics store answers
// Errors: {"data":null,...,"errors":[{"code":N,"msg":"..."}]} with status N.
std::optional<HttpResponse> HandleJaegerApi(const HttpRequest& request, absl::string_view route,
                                            ApiContext& context);

}  // namespace otlpd::query
