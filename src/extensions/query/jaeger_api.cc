#include "extensions/query/jaeger_api.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "extensions/query/jaeger_json.h"
#include "extensions/query/json_writer.h"
#include "extensions/query/logs_json.h"
#include "extensions/query/query_params.h"

namespace otlpd::query {

namespace {

using storage::StoreReader;
using storage::TraceId;

constexpr size_t kDefaultTraceLimit = 100;  // Jaeger's defaultQueryLimit

std::string TraceIdBytes(const TraceId& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

absl::StatusOr<StoreReader*> Store(ApiContext& context) {
  absl::StatusOr<StoreReader*> store = context.store();
  if (!store.ok()) return store.status();
  return *store;
}

absl::StatusOr<std::string> Services(ApiContext& context) {
  absl::StatusOr<StoreReader*> store = Store(context);
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<std::string>> services = (*store)->Services();
  if (!services.ok()) return StoreError(services.status());
  std::string data;
  JsonWriter json(&data);
  json.BeginArray();
  for (const std::string& s : *services) json.String(s);
  json.EndArray();
  return JaegerEnvelope(data, static_cast<int64_t>(services->size()));
}

absl::StatusOr<std::string> OperationNames(const std::string& service, ApiContext& context) {
  absl::StatusOr<StoreReader*> store = Store(context);
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<storage::Operation>> ops = (*store)->Operations(service, "");
  if (!ops.ok()) return StoreError(ops.status());
  // One name per operation, whatever its kinds (Jaeger's getUniqueOperationNames).
  std::set<std::string> names;
  for (const storage::Operation& op : *ops) names.insert(op.name);
  std::string data;
  JsonWriter json(&data);
  json.BeginArray();
  for (const std::string& n : names) json.String(n);
  json.EndArray();
  return JaegerEnvelope(data, static_cast<int64_t>(names.size()));
}

absl::StatusOr<std::string> Operations(const HttpRequest& request, ApiContext& context) {
  const std::string service = Param(request, "service");
  if (service.empty()) return absl::InvalidArgumentError("parameter 'service' is required");
  absl::StatusOr<std::string> kind = ParseSpanKind(Param(request, "spanKind"));
  if (!kind.ok()) return ParamError("spanKind", kind.status());
  absl::StatusOr<StoreReader*> store = Store(context);
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<storage::Operation>> ops = (*store)->Operations(service, *kind);
  if (!ops.ok()) return StoreError(ops.status());
  std::string data;
  JsonWriter json(&data);
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
  return JaegerEnvelope(data, static_cast<int64_t>(ops->size()));
}

// Writes the trace (and its logs when asked); false when the store has no span of it.
absl::StatusOr<bool> WriteTrace(StoreReader& store, const TraceId& id, bool with_logs,
                                const QueryConfig& config, JsonWriter* json) {
  absl::StatusOr<std::optional<opentelemetry::proto::trace::v1::TracesData>> trace =
      store.GetTrace(id);
  if (!trace.ok()) return StoreError(trace.status());
  if (!trace->has_value()) return false;
  std::optional<opentelemetry::proto::logs::v1::LogsData> logs;
  if (with_logs) {
    storage::LogQuery query;
    query.trace_id = id;
    query.limit = static_cast<size_t>(config.max_limit);
    absl::StatusOr<opentelemetry::proto::logs::v1::LogsData> found = store.FindLogs(query);
    if (!found.ok()) return StoreError(found.status());
    logs = std::move(*found);
  }
  WriteJaegerTrace(**trace, json, [&](JsonWriter* j) {
    if (!logs.has_value()) return;
    j->Key("logs");
    WriteLogRecords(*logs, LogOrder::kOldestFirst, static_cast<size_t>(config.max_limit), j);
  });
  return true;
}

absl::StatusOr<bool> ParseBoolParam(const HttpRequest& request, absl::string_view name) {
  const std::string text = Param(request, name);
  if (text.empty() || text == "false" || text == "0" || text == "False" || text == "FALSE" ||
      text == "f" || text == "F") {
    return false;
  }
  if (text == "true" || text == "1" || text == "True" || text == "TRUE" || text == "t" ||
      text == "T") {
    return true;
  }
  return ParamError(name, absl::StrCat("not a boolean: \"", text, "\""));
}

absl::StatusOr<std::string> GetTrace(const HttpRequest& request, absl::string_view id_text,
                                     ApiContext& context) {
  absl::StatusOr<TraceId> id = ParseTraceIdHex(PercentDecode(id_text));
  if (!id.ok()) return ParamError("traceID", id.status());
  // start/end narrow where Jaeger's storage looks; they are checked, and every tier is read.
  for (const char* name : {"start", "end"}) {
    if (const std::string t = Param(request, name); !t.empty()) {
      if (absl::StatusOr<absl::Time> v = ParseUnixTime(t, absl::Microseconds(1)); !v.ok()) {
        return ParamError(name, v.status());
      }
    }
  }
  absl::StatusOr<bool> with_logs = ParseBoolParam(request, "logs");
  if (!with_logs.ok()) return with_logs.status();
  absl::StatusOr<StoreReader*> store = Store(context);
  if (!store.ok()) return store.status();
  std::string data;
  JsonWriter json(&data);
  json.BeginArray();
  absl::StatusOr<bool> found = WriteTrace(**store, *id, *with_logs, *context.config, &json);
  if (!found.ok()) return found.status();
  if (!*found) return absl::NotFoundError("trace not found");
  json.EndArray();
  return JaegerEnvelope(data, 0);
}

absl::StatusOr<absl::Time> TimeParam(const HttpRequest& request, absl::string_view name,
                                     absl::Duration unit, absl::Time fallback) {
  const std::string text = Param(request, name);
  if (text.empty()) return fallback;
  absl::StatusOr<absl::Time> t = ParseUnixTime(text, unit);
  if (!t.ok()) return ParamError(name, t.status());
  return *t;
}

absl::StatusOr<std::optional<absl::Duration>> DurationParam(const HttpRequest& request,
                                                            absl::string_view name) {
  const std::string text = Param(request, name);
  if (text.empty()) return std::nullopt;
  absl::StatusOr<absl::Duration> d = ParseGoDuration(text);
  if (!d.ok()) return ParamError(name, d.status());
  return *d;
}

absl::StatusOr<std::string> SearchTraces(const HttpRequest& request, ApiContext& context) {
  storage::TraceQuery query;
  query.service = Param(request, "service");
  query.operation = Param(request, "operation");

  absl::StatusOr<absl::Time> end = TimeParam(request, "end", absl::Microseconds(1), context.now);
  if (!end.ok()) return end.status();
  // Jaeger ignores `lookback` (the UI sends start too); it sets the window when start is absent.
  absl::Duration lookback = context.config->default_lookback;
  if (absl::StatusOr<absl::Duration> d = ParseGoDuration(Param(request, "lookback")); d.ok()) {
    lookback = *d;
  }
  absl::StatusOr<absl::Time> start =
      TimeParam(request, "start", absl::Microseconds(1), *end - lookback);
  if (!start.ok()) return start.status();
  query.time = {*start, *end};

  std::map<std::string, std::string> tags;
  for (const auto& [key, value] : request.params) {
    // Empty values are skipped: a client may send the parameter with nothing in it.
    if (key == "tag" && !value.empty()) {
      if (absl::Status s = ParseTagParam(value, &tags); !s.ok()) return s;
    }
  }
  for (const auto& [key, value] : request.params) {
    if (key == "tags" && !value.empty()) {
      if (absl::Status s = ParseTagsJson(value, &tags); !s.ok()) return s;
    }
  }
  query.tags.assign(tags.begin(), tags.end());

  absl::StatusOr<size_t> limit =
      ParseLimitParam(request, "limit", kDefaultTraceLimit, *context.config);
  if (!limit.ok()) return limit.status();
  query.limit = *limit;

  absl::StatusOr<std::optional<absl::Duration>> min = DurationParam(request, "minDuration");
  if (!min.ok()) return min.status();
  absl::StatusOr<std::optional<absl::Duration>> max = DurationParam(request, "maxDuration");
  if (!max.ok()) return max.status();
  query.min_duration = *min;
  query.max_duration = *max;

  std::vector<TraceId> ids;
  for (const auto& [key, value] : request.params) {
    if (key != "traceID") continue;
    absl::StatusOr<TraceId> id = ParseTraceIdHex(value);
    if (!id.ok()) return ParamError("traceID", id.status());
    ids.push_back(*id);
  }
  if (ids.empty() && query.service.empty()) {
    return absl::InvalidArgumentError("parameter 'service' is required");
  }
  if (min->has_value() && max->has_value() && **max < **min) {
    return absl::InvalidArgumentError("'maxDuration' should be greater than 'minDuration'");
  }

  absl::StatusOr<StoreReader*> store = Store(context);
  if (!store.ok()) return store.status();
  const bool by_id = !ids.empty();
  if (!by_id) {
    absl::StatusOr<std::vector<TraceId>> found = (*store)->FindTraces(query);
    if (!found.ok()) return StoreError(found.status());
    ids = std::move(*found);
  }
  std::string data;
  JsonWriter json(&data);
  std::string errors = "null";
  JsonWriter errors_json(&errors);
  bool any_error = false;
  json.BeginArray();
  for (const TraceId& id : ids) {
    absl::StatusOr<bool> found = WriteTrace(**store, id, false, *context.config, &json);
    if (!found.ok()) return found.status();
    // A searched trace can vanish between the search and the fetch (retention): skip it.
    if (*found || !by_id) continue;
    if (!any_error) {
      errors.clear();
      errors_json.BeginArray();
      any_error = true;
    }
    errors_json.BeginObject();
    errors_json.Key("msg");
    errors_json.String("trace not found");
    errors_json.Key("traceID");
    errors_json.String(JaegerTraceId(TraceIdBytes(id)));
    errors_json.EndObject();
  }
  json.EndArray();
  if (any_error) errors_json.EndArray();
  return JaegerEnvelope(data, 0, 0, errors);
}

absl::StatusOr<std::string> Dependencies(const HttpRequest& request, ApiContext& context) {
  absl::StatusOr<absl::Time> end = TimeParam(request, "endTs", absl::Milliseconds(1), context.now);
  if (!end.ok()) return end.status();
  absl::Duration lookback = absl::Hours(24);  // Jaeger's defaultDependencyLookbackDuration
  if (const std::string text = Param(request, "lookback"); !text.empty()) {
    absl::StatusOr<int64_t> ms = ParseNonNegativeInt(text);
    if (!ms.ok()) return ParamError("lookback", ms.status());
    lookback = absl::Milliseconds(*ms);
  }
  const std::string service = Param(request, "service");
  absl::StatusOr<StoreReader*> store = Store(context);
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<storage::DependencyLink>> links =
      (*store)->Dependencies({*end - lookback, *end});
  if (!links.ok()) return StoreError(links.status());
  std::map<std::pair<std::string, std::string>, uint64_t> merged;
  for (const storage::DependencyLink& link : *links) {
    if (!service.empty() && link.parent != service && link.child != service) continue;
    merged[{link.parent, link.child}] += link.call_count;
  }
  std::string data;
  JsonWriter json(&data);
  json.BeginArray();
  for (const auto& [edge, count] : merged) {
    json.BeginObject();
    json.Key("parent");
    json.String(edge.first);
    json.Key("child");
    json.String(edge.second);
    json.Key("callCount");
    json.Uint(count);
    json.EndObject();
  }
  json.EndArray();
  return JaegerEnvelope(data, 0);
}

absl::StatusOr<std::string> Route(const HttpRequest& request, absl::string_view route,
                                  ApiContext& context, bool* matched) {
  *matched = true;
  if (route == "/api/services") return Services(context);
  if (route == "/api/operations") return Operations(request, context);
  if (route == "/api/traces") return SearchTraces(request, context);
  if (route == "/api/dependencies") return Dependencies(request, context);
  if (absl::ConsumePrefix(&route, "/api/traces/") && !route.empty() &&
      route.find('/') == absl::string_view::npos) {
    return GetTrace(request, route, context);
  }
  if (absl::ConsumePrefix(&route, "/api/services/") && absl::ConsumeSuffix(&route, "/operations") &&
      !route.empty() && route.find('/') == absl::string_view::npos) {
    return OperationNames(PercentDecode(route), context);
  }
  if (absl::StartsWith(route, "/api/metrics/")) {
    return absl::UnimplementedError("metrics querying is currently disabled");
  }
  *matched = false;
  return std::string();
}

}  // namespace

std::optional<HttpResponse> HandleJaegerApi(const HttpRequest& request, absl::string_view route,
                                            ApiContext& context) {
  bool matched = false;
  absl::StatusOr<std::string> body = Route(request, route, context, &matched);
  if (!matched) return std::nullopt;
  if (!body.ok()) return JaegerErrorResponse(body.status());
  return JsonResponse(200, std::move(*body));
}

}  // namespace otlpd::query
