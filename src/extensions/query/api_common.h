#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/http_server.h"
#include "extensions/query/config.h"
#include "storage/store_reader.h"

namespace otlpd::query {

// What a route handler gets besides the request.
struct ApiContext {
  // The store, or kUnavailable (→ 503) when it is missing or not open yet. Asked only by
  // routes that read, so that a bad parameter is reported even without a store.
  std::function<absl::StatusOr<storage::StoreReader*>()> store;
  const QueryConfig* config = nullptr;
  absl::Time now;
};

// A route handler: the body of a 200 response, or an error whose code picks the status
// (see HttpStatusFor).
using RouteHandler =
    std::function<absl::StatusOr<std::string>(const HttpRequest& request, ApiContext& context)>;

// kInvalidArgument → 400, kNotFound → 404, kUnavailable → 503, kUnimplemented → 501,
// everything else → 500.
int HttpStatusFor(const absl::Status& status);

HttpResponse JsonResponse(int status, std::string body);

// "unable to parse param '<name>': <cause>" (Jaeger's wording), as kInvalidArgument.
absl::Status ParamError(absl::string_view name, const absl::Status& cause);
absl::Status ParamError(absl::string_view name, absl::string_view message);

// A store's error as the response reports it: kUnavailable stays (503), others are 500.
absl::Status StoreError(const absl::Status& status);

// Jaeger's structuredResponse: {"data":<data>,"total":N,"limit":L,"offset":0,"errors":<errors>}.
std::string JaegerEnvelope(absl::string_view data_json, int64_t total, int64_t limit = 0,
                           absl::string_view errors_json = "null");
// {"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":<status>,"msg":"..."}]}.
HttpResponse JaegerErrorResponse(const absl::Status& status);
HttpResponse JaegerErrorResponse(int code, absl::string_view message);

// The first value of a parameter, "" when absent.
std::string Param(const HttpRequest& request, absl::string_view name);

// limit: absent or 0 → `fallback`, else capped at config.max_limit; not a non-negative
// integer → a ParamError naming `name`.
absl::StatusOr<size_t> ParseLimitParam(const HttpRequest& request, absl::string_view name,
                                       size_t fallback, const QueryConfig& config);

// RFC 3339 with nanoseconds, "Z" (Go's time.RFC3339Nano).
std::string FormatRfc3339Nano(absl::Time t);

}  // namespace otlpd::query
