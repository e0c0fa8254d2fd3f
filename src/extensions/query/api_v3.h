#pragma once

#include <optional>

#include "absl/strings/string_view.h"
#include "core/http_server.h"
#include "extensions/query/api_common.h"

namespace otlpd::query {

// Jaeger's api_v3 HTTP/JSON gateway (cmd/query/app/apiv3/http_gateway.go), which newer Jaeger
// UI releases call. nullopt when `route` is not one of:
//   /api/v3/services                           {"services":[...]}
//   /api/v3/operations?service=&span_kind=     {"operations":[{"name","spanKind"}]}
//   /api/v3/traces/{trace_id}[?start_time=&end_time=&raw_traces=]
//                                              {"result":{"resourceSpans":[...]}} (OTLP JSON)
//   /api/v3/traces?query.service_name=&query.operation_name=&query.start_time_min=
//       &query.start_time_max= (RFC 3339, both required)&query.duration_min=&query.duration_max=
//       &query.search_depth= (or query.num_traces)&query.attributes={json} (or
//       query.attributes[key]=value)&query.raw_traces=
//                                              the spans of every matching trace, one result
// Errors, and "No traces found" (404) for an unknown trace or a search without results, as
// Jaeger writes them: {"error":{"httpCode":N,"message":"..."}}.
std::optional<HttpResponse> HandleApiV3(const HttpRequest& request, absl::string_view route,
                                        ApiContext& context);

}  // namespace otlpd::query
