#include "extensions/query/api_v3.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/otlp_json.h"
#include "extensions/query/json_writer.h"
#include "extensions/query/query_params.h"

namespace otlpd::query {

namespace {

using opentelemetry::proto::trace::v1::TracesData;
using storage::StoreReader;
using storage::TraceId;

constexpr size_t kDefaultSearchDepth = 100;

// Jaeger's gateway wording for a bad parameter.
absl::Status Malformed(absl::string_view name, const absl::Status& cause) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed parameter ", name, ": ", cause.message()));
}

absl::Status NoTraces() { return absl::NotFoundError("No traces found"); }

HttpResponse ErrorResponse(const absl::Status& status) {
  const int code = HttpStatusFor(status);
  std::string body;
  JsonWriter json(&body);
  json.BeginObject();
  json.Key("error");
  json.BeginObject();
  json.Key("httpCode");
  json.Int(code);
  json.Key("message");
  json.String(status.message());
  json.EndObject();
  json.EndObject();
  return JsonResponse(code, std::move(body));
}

absl::Status CheckBool(const HttpRequest& request, absl::string_view name) {
  const std::string text = Param(request, name);
  static const char* const kAccepted[] = {"",  "1", "t", "T",     "true",  "TRUE", "True",
                                          "0", "f", "F", "false", "FALSE", "False"};
  for (const char* ok : kAccepted) {
    if (text == ok) return absl::OkStatus();
  }
  return Malformed(name, absl::InvalidArgumentError(absl::StrCat("strconv.ParseBool: parsing \"",
                                                                 text, "\": invalid syntax")));
}

std::string Result(const TracesData& traces) {
  return absl::StrCat(R"({"result":)", EncodeOtlpJson(traces), "}");
}

absl::StatusOr<std::string> Services(ApiContext& context) {
  absl::StatusOr<StoreReader*> store = context.store();
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<std::string>> services = (*store)->Services();
  if (!services.ok()) return StoreError(services.status());
  std::string body;
  JsonWriter json(&body);
  json.BeginObject();
  json.Key("services");
  json.BeginArray();
  for (const std::string& s : *services) json.String(s);
  json.EndArray();
  json.EndObject();
  return body;
}

absl::StatusOr<std::string> Operations(const HttpRequest& request, ApiContext& context) {
  absl::StatusOr<std::string> kind = ParseSpanKind(Param(request, "span_kind"));
  if (!kind.ok()) return Malformed("span_kind", kind.status());
  absl::StatusOr<StoreReader*> store = context.store();
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<storage::Operation>> ops =
      (*store)->Operations(Param(request, "service"), *kind);
  if (!ops.ok()) return StoreError(ops.status());
  std::string body;
  JsonWriter json(&body);
  json.BeginObject();
  json.Key("operations");
  json.BeginArray();
  for (const storage::Operation& op : *ops) {
    json.BeginObject();
    json.Key("name");
    json.String(op.name);
    json.Key("spanKind");
    json.String(op.span_kind);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return body;
}

// Appends the spans of trace `id` to `out`; false when the store has none.
absl::StatusOr<bool> AppendTrace(StoreReader& store, const TraceId& id, TracesData* out) {
  absl::StatusOr<std::optional<TracesData>> trace = store.GetTrace(id);
  if (!trace.ok()) return StoreError(trace.status());
  if (!trace->has_value()) return false;
  for (auto& rs : *(*trace)->mutable_resource_spans()) {
    *out->add_resource_spans() = std::move(rs);
  }
  return true;
}

absl::StatusOr<std::string> GetTrace(const HttpRequest& request, absl::string_view id_text,
                                     ApiContext& context) {
  absl::StatusOr<TraceId> id = ParseTraceIdHex(PercentDecode(id_text));
  if (!id.ok()) return Malformed("trace_id", id.status());
  // Hints where to look in Jaeger's storage; checked, and every tier is read.
  for (const char* name : {"start_time", "end_time"}) {
    if (const std::string t = Param(request, name); !t.empty()) {
      if (absl::StatusOr<absl::Time> v = ParseRfc3339(t); !v.ok())
        return Malformed(name, v.status());
    }
  }
  if (absl::Status s = CheckBool(request, "raw_traces"); !s.ok()) return s;
  absl::StatusOr<StoreReader*> store = context.store();
  if (!store.ok()) return store.status();
  TracesData traces;
  absl::StatusOr<bool> found = AppendTrace(**store, *id, &traces);
  if (!found.ok()) return found.status();
  if (!*found) return NoTraces();
  return Result(traces);
}

absl::StatusOr<std::string> FindTraces(const HttpRequest& request, ApiContext& context) {
  storage::TraceQuery query;
  query.service = Param(request, "query.service_name");
  query.operation = Param(request, "query.operation_name");
  const std::string min_text = Param(request, "query.start_time_min");
  const std::string max_text = Param(request, "query.start_time_max");
  if (min_text.empty() || max_text.empty()) {
    return absl::InvalidArgumentError("query.start_time_min and query.start_time_max are required");
  }
  absl::StatusOr<absl::Time> min_time = ParseRfc3339(min_text);
  if (!min_time.ok()) return Malformed("query.start_time_min", min_time.status());
  absl::StatusOr<absl::Time> max_time = ParseRfc3339(max_text);
  if (!max_time.ok()) return Malformed("query.start_time_max", max_time.status());
  query.time = {*min_time, *max_time};

  size_t depth = kDefaultSearchDepth;
  for (const char* name : {"query.num_traces", "query.search_depth"}) {
    if (const std::string n = Param(request, name); !n.empty()) {
      absl::StatusOr<int64_t> v = ParseNonNegativeInt(n);
      if (!v.ok()) return Malformed(name, v.status());
      if (*v > 0) depth = static_cast<size_t>(*v);
    }
  }
  query.limit = std::min<size_t>(depth, static_cast<size_t>(context.config->max_limit));

  for (const char* name : {"query.duration_min", "query.duration_max"}) {
    if (const std::string d = Param(request, name); !d.empty()) {
      absl::StatusOr<absl::Duration> v = ParseGoDuration(d);
      if (!v.ok()) return Malformed(name, v.status());
      (absl::string_view(name) == "query.duration_min" ? query.min_duration : query.max_duration) =
          *v;
    }
  }
  if (query.min_duration.has_value() && query.max_duration.has_value() &&
      *query.max_duration < *query.min_duration) {
    return absl::InvalidArgumentError(
        "query.duration_max should be greater than query.duration_min");
  }

  std::map<std::string, std::string> attributes;
  for (const auto& [key, value] : request.params) {
    absl::string_view k = key;
    if (k == "query.attributes") {
      if (absl::Status s = ParseTagsJson(value, &attributes); !s.ok()) {
        return Malformed("query.attributes", s);
      }
    } else if (absl::ConsumePrefix(&k, "query.attributes[") && absl::ConsumeSuffix(&k, "]") &&
               !k.empty()) {
      attributes[std::string(k)] = value;
    }
  }
  query.tags.assign(attributes.begin(), attributes.end());
  if (absl::Status s = CheckBool(request, "query.raw_traces"); !s.ok()) return s;

  absl::StatusOr<StoreReader*> store = context.store();
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<TraceId>> ids = (*store)->FindTraces(query);
  if (!ids.ok()) return StoreError(ids.status());
  TracesData traces;
  for (const TraceId& id : *ids) {
    absl::StatusOr<bool> found = AppendTrace(**store, id, &traces);
    if (!found.ok()) return found.status();
  }
  if (traces.resource_spans_size() == 0) return NoTraces();
  return Result(traces);
}

absl::StatusOr<std::string> Route(const HttpRequest& request, absl::string_view route,
                                  ApiContext& context, bool* matched) {
  *matched = true;
  if (route == "/api/v3/services") return Services(context);
  if (route == "/api/v3/operations") return Operations(request, context);
  if (route == "/api/v3/traces") return FindTraces(request, context);
  if (absl::ConsumePrefix(&route, "/api/v3/traces/") && !route.empty() &&
      route.find('/') == absl::string_view::npos) {
    return GetTrace(request, route, context);
  }
  *matched = false;
  return std::string();
}

}  // namespace

std::optional<HttpResponse> HandleApiV3(const HttpRequest& request, absl::string_view route,
                                        ApiContext& context) {
  bool matched = false;
  absl::StatusOr<std::string> body = Route(request, route, context, &matched);
  if (!matched) return std::nullopt;
  if (!body.ok()) return ErrorResponse(body.status());
  return JsonResponse(200, std::move(*body));
}

}  // namespace otlpd::query
