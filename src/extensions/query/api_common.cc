#include "extensions/query/api_common.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "extensions/query/json_writer.h"
#include "extensions/query/query_params.h"

namespace otlpd::query {

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kUnimplemented:
      return 501;
    default:
      return 500;
  }
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = std::move(body);
  return response;
}

absl::Status ParamError(absl::string_view name, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("unable to parse param '", name, "': ", message));
}

absl::Status ParamError(absl::string_view name, const absl::Status& cause) {
  return ParamError(name, cause.message());
}

absl::Status StoreError(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kUnavailable) return status;
  return absl::InternalError(absl::StrCat("store: ", status.message()));
}

std::string JaegerEnvelope(absl::string_view data_json, int64_t total, int64_t limit,
                           absl::string_view errors_json) {
  return absl::StrCat(R"({"data":)", data_json, R"(,"total":)", total, R"(,"limit":)", limit,
                      R"(,"offset":0,"errors":)", errors_json, "}");
}

HttpResponse JaegerErrorResponse(const absl::Status& status) {
  return JaegerErrorResponse(HttpStatusFor(status), status.message());
}

HttpResponse JaegerErrorResponse(int code, absl::string_view message) {
  std::string errors;
  JsonWriter json(&errors);
  json.BeginArray();
  json.BeginObject();
  json.Key("code");
  json.Int(code);
  json.Key("msg");
  json.String(message);
  json.EndObject();
  json.EndArray();
  return JsonResponse(code, JaegerEnvelope("null", 0, 0, errors));
}

std::string Param(const HttpRequest& request, absl::string_view name) {
  const std::string* value = request.Param(std::string_view(name.data(), name.size()));
  return value != nullptr ? *value : std::string();
}

absl::StatusOr<size_t> ParseLimitParam(const HttpRequest& request, absl::string_view name,
                                       size_t fallback, const QueryConfig& config) {
  const std::string text = Param(request, name);
  size_t limit = fallback;
  if (!text.empty()) {
    absl::StatusOr<int64_t> n = ParseNonNegativeInt(text);
    if (!n.ok()) return ParamError(name, n.status());
    if (*n > 0) limit = static_cast<size_t>(*n);
  }
  return std::min<size_t>(limit, static_cast<size_t>(config.max_limit));
}

std::string FormatRfc3339Nano(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

}  // namespace otlpd::query
