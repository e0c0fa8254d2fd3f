#include "extensions/query/jaeger_json.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace otlpd::query {

namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using opentelemetry::proto::trace::v1::TracesData;

constexpr int64_t kJsMaxSafeInteger = (int64_t{1} << 53) - 1;

// Exactly `n` bytes: shorter ids are left-padded with zeros, longer ones keep their tail.
std::string Fixed(absl::string_view bytes, size_t n) {
  if (bytes.size() >= n) return std::string(bytes.substr(bytes.size() - n));
  return std::string(n - bytes.size(), '\0') + std::string(bytes);
}

bool AllZero(absl::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

void WriteStringTag(absl::string_view key, absl::string_view value, JsonWriter* json) {
  json->BeginObject();
  json->Key("key");
  json->String(key);
  json->Key("type");
  json->String("string");
  json->Key("value");
  json->String(value);
  json->EndObject();
}

void WriteTag(const KeyValue& kv, JsonWriter* json) {
  const AnyValue& v = kv.value();
  json->BeginObject();
  json->Key("key");
  json->String(kv.key());
  json->Key("type");
  switch (v.value_case()) {
    case AnyValue::kBoolValue:
      json->String("bool");
      json->Key("value");
      json->Bool(v.bool_value());
      break;
    case AnyValue::kIntValue:
      json->String("int64");
      json->Key("value");
      if (v.int_value() > kJsMaxSafeInteger || v.int_value() < -kJsMaxSafeInteger) {
        json->String(absl::StrCat(v.int_value()));
      } else {
        json->Int(v.int_value());
      }
      break;
    case AnyValue::kDoubleValue:
      json->String("float64");
      json->Key("value");
      // NaN and infinities are not JSON numbers: their text keeps them readable.
      WriteAnyValue(v, /*sort_keys=*/true, json);
      break;
    case AnyValue::kBytesValue:
      json->String("binary");
      json->Key("value");
      json->String(absl::Base64Escape(v.bytes_value()));
      break;
    default:
      json->String("string");
      json->Key("value");
      json->String(AnyValueAsString(v));
      break;
  }
  json->EndObject();
}

const char* SpanKindTag(Span::SpanKind kind) {
  switch (kind) {
    case Span::SPAN_KIND_CLIENT:
      return "client";
    case Span::SPAN_KIND_SERVER:
      return "server";
    case Span::SPAN_KIND_PRODUCER:
      return "producer";
    case Span::SPAN_KIND_CONSUMER:
      return "consumer";
    case Span::SPAN_KIND_INTERNAL:
      return "internal";
    default:
      return nullptr;
  }
}

// The process JSON of a resource, used both as the output and as the key for sharing ids.
std::string ProcessJson(const ResourceSpans& rs) {
  const auto& attrs = rs.resource().attributes();
  // A resource without attributes gets the translator's placeholder; one with attributes
  // but no service.name an empty name (as the translator does).
  std::string service = attrs.empty() ? "OTLPResourceNoServiceName" : "";
  for (const KeyValue& kv : attrs) {
    if (kv.key() == "service.name") service = AnyValueAsString(kv.value());
  }
  std::string out;
  JsonWriter json(&out);
  json.BeginObject();
  json.Key("serviceName");
  json.String(service);
  json.Key("tags");
  json.BeginArray();
  for (const KeyValue& kv : attrs) {
    if (kv.key() != "service.name") WriteTag(kv, &json);
  }
  json.EndArray();
  json.EndObject();
  return out;
}

void WriteReference(const char* type, absl::string_view trace_id, absl::string_view span_id,
                    JsonWriter* json) {
  json->BeginObject();
  json->Key("refType");
  json->String(type);
  json->Key("traceID");
  json->String(JaegerTraceId(trace_id));
  json->Key("spanID");
  json->String(JaegerSpanId(span_id));
  json->EndObject();
}

void WriteReferences(const Span& span, JsonWriter* json) {
  json->BeginArray();
  const bool has_parent = !span.parent_span_id().empty() && !AllZero(span.parent_span_id());
  // The parent's reference type, which a link to the parent may change.
  const char* parent_type = "CHILD_OF";
  std::vector<std::pair<const char*, const Span::Link*>> links;
  for (const Span::Link& link : span.links()) {
    const char* type = "FOLLOWS_FROM";
    for (const KeyValue& kv : link.attributes()) {
      if (kv.key() == "opentracing.ref_type") {
        type = AnyValueAsString(kv.value()) == "child_of" ? "CHILD_OF" : "FOLLOWS_FROM";
      }
    }
    if (has_parent && Fixed(link.trace_id(), 16) == Fixed(span.trace_id(), 16) &&
        Fixed(link.span_id(), 8) == Fixed(span.parent_span_id(), 8)) {
      parent_type = type;
      continue;
    }
    links.emplace_back(type, &link);
  }
  if (has_parent) WriteReference(parent_type, span.trace_id(), span.parent_span_id(), json);
  for (const auto& [type, link] : links) {
    WriteReference(type, link->trace_id(), link->span_id(), json);
  }
  json->EndArray();
}

void WriteSpanTags(const Span& span,
                   const opentelemetry::proto::common::v1::InstrumentationScope& scope,
                   JsonWriter* json) {
  json->BeginArray();
  if (!scope.name().empty()) WriteStringTag("otel.scope.name", scope.name(), json);
  if (!scope.version().empty()) WriteStringTag("otel.scope.version", scope.version(), json);
  for (const KeyValue& kv : span.attributes()) WriteTag(kv, json);
  if (const char* kind = SpanKindTag(span.kind()); kind != nullptr) {
    WriteStringTag("span.kind", kind, json);
  }
  const Status& status = span.status();
  if (status.code() == Status::STATUS_CODE_ERROR) {
    WriteStringTag("otel.status_code", "ERROR", json);
    json->BeginObject();
    json->Key("key");
    json->String("error");
    json->Key("type");
    json->String("bool");
    json->Key("value");
    json->Bool(true);
    json->EndObject();
  } else if (status.code() == Status::STATUS_CODE_OK) {
    WriteStringTag("otel.status_code", "OK", json);
  }
  if (!status.message().empty()) {
    WriteStringTag("otel.status_description", status.message(), json);
  }
  if (!span.trace_state().empty()) WriteStringTag("w3c.tracestate", span.trace_state(), json);
  json->EndArray();
}

void WriteLogs(const Span& span, JsonWriter* json) {
  json->BeginArray();
  for (const Span::Event& event : span.events()) {
    json->BeginObject();
    json->Key("timestamp");
    json->Uint(event.time_unix_nano() / 1000);
    json->Key("fields");
    json->BeginArray();
    const bool has_event_attr = std::any_of(event.attributes().begin(), event.attributes().end(),
                                            [](const KeyValue& kv) { return kv.key() == "event"; });
    if (!event.name().empty() && !has_event_attr) WriteStringTag("event", event.name(), json);
    for (const KeyValue& kv : event.attributes()) WriteTag(kv, json);
    json->EndArray();
    json->EndObject();
  }
  json->EndArray();
}

}  // namespace

std::string JaegerTraceId(absl::string_view id_bytes) {
  const std::string id = Fixed(id_bytes, 16);
  if (AllZero(absl::string_view(id).substr(0, 8))) return Hex(absl::string_view(id).substr(8));
  return Hex(id);
}

std::string JaegerSpanId(absl::string_view id_bytes) { return Hex(Fixed(id_bytes, 8)); }

void WriteJaegerTrace(const TracesData& trace, JsonWriter* json,
                      const std::function<void(JsonWriter*)>& extra) {
  // Process ids by process JSON, numbered in order of first use.
  std::map<std::string, std::string> process_ids;
  std::vector<const std::string*> process_order;
  std::string trace_id;
  bool first = true;

  json->BeginObject();
  json->Key("traceID");
  // The trace id is known only from the first span; write the spans into a side buffer.
  std::string spans_json;
  JsonWriter spans(&spans_json);
  spans.BeginArray();
  for (const ResourceSpans& rs : trace.resource_spans()) {
    std::string process_id;  // assigned at the resource's first span
    for (const auto& ss : rs.scope_spans()) {
      for (const Span& span : ss.spans()) {
        if (process_id.empty()) {
          auto [it, inserted] = process_ids.emplace(ProcessJson(rs), "");
          if (inserted) {
            it->second = absl::StrCat("p", process_ids.size());
            process_order.push_back(&it->first);
          }
          process_id = it->second;
        }
        if (first) {
          trace_id = JaegerTraceId(span.trace_id());
          first = false;
        }
        spans.BeginObject();
        spans.Key("traceID");
        spans.String(JaegerTraceId(span.trace_id()));
        spans.Key("spanID");
        spans.String(JaegerSpanId(span.span_id()));
        if (const uint32_t flags = span.flags() & 0xff; flags != 0) {
          spans.Key("flags");
          spans.Uint(flags);
        }
        spans.Key("operationName");
        spans.String(span.name());
        spans.Key("references");
        WriteReferences(span, &spans);
        spans.Key("startTime");
        spans.Uint(span.start_time_unix_nano() / 1000);
        spans.Key("duration");
        const uint64_t end = std::max(span.end_time_unix_nano(), span.start_time_unix_nano());
        spans.Uint((end - span.start_time_unix_nano()) / 1000);
        spans.Key("tags");
        WriteSpanTags(span, ss.scope(), &spans);
        spans.Key("logs");
        WriteLogs(span, &spans);
        spans.Key("processID");
        spans.String(process_id);
        spans.Key("warnings");
        spans.Null();
        spans.EndObject();
      }
    }
  }
  spans.EndArray();
  json->String(trace_id);
  json->Key("spans");
  json->Raw(spans_json);
  json->Key("processes");
  // Go prints map keys sorted ("p1" < "p10" < "p2").
  std::vector<std::pair<std::string, const std::string*>> processes;
  for (const std::string* process : process_order) {
    processes.emplace_back(process_ids[*process], process);
  }
  std::sort(processes.begin(), processes.end());
  json->BeginObject();
  for (const auto& [id, process] : processes) {
    json->Key(id);
    json->Raw(*process);
  }
  json->EndObject();
  json->Key("warnings");
  json->Null();
  if (extra) extra(json);
  json->EndObject();
}

}  // namespace otlpd::query
