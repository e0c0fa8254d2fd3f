#include "extensions/query/logs_json.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "extensions/query/api_common.h"

namespace otlpd::query {

namespace {

using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::logs::v1::LogRecord;
using opentelemetry::proto::logs::v1::LogsData;
using opentelemetry::proto::logs::v1::ResourceLogs;
using opentelemetry::proto::logs::v1::ScopeLogs;

struct Entry {
  uint64_t time_ns;
  const ResourceLogs* resource;
  const ScopeLogs* scope;
  const LogRecord* record;
};

void WriteTime(uint64_t ns, JsonWriter* json) {
  if (ns == 0) {
    json->Null();
  } else {
    json->String(FormatRfc3339Nano(absl::FromUnixNanos(static_cast<int64_t>(ns))));
  }
}

void WriteId(const std::string& bytes, JsonWriter* json) {
  const bool zero = std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
  json->String(zero ? std::string() : Hex(bytes));
}

}  // namespace

size_t WriteLogRecords(const LogsData& logs, LogOrder order, size_t limit, JsonWriter* json) {
  std::vector<Entry> entries;
  for (const ResourceLogs& rl : logs.resource_logs()) {
    for (const ScopeLogs& sl : rl.scope_logs()) {
      for (const LogRecord& r : sl.log_records()) {
        const uint64_t t =
            r.time_unix_nano() != 0 ? r.time_unix_nano() : r.observed_time_unix_nano();
        entries.push_back({t, &rl, &sl, &r});
      }
    }
  }
  std::stable_sort(entries.begin(), entries.end(), [order](const Entry& a, const Entry& b) {
    return order == LogOrder::kNewestFirst ? a.time_ns > b.time_ns : a.time_ns < b.time_ns;
  });
  if (entries.size() > limit) entries.resize(limit);
  json->BeginArray();
  for (const Entry& e : entries) {
    const LogRecord& r = *e.record;
    json->BeginObject();
    json->Key("timestamp");
    WriteTime(r.time_unix_nano(), json);
    json->Key("observedTimestamp");
    WriteTime(r.observed_time_unix_nano(), json);
    json->Key("severityNumber");
    json->Int(r.severity_number());
    json->Key("severityText");
    json->String(r.severity_text());
    json->Key("body");
    WriteAnyValue(r.body(), /*sort_keys=*/false, json);
    json->Key("attributes");
    WriteAttributes(r.attributes(), json);
    json->Key("resource");
    WriteAttributes(e.resource->resource().attributes(), json);
    json->Key("scope");
    json->BeginObject();
    json->Key("name");
    json->String(e.scope->scope().name());
    json->Key("version");
    json->String(e.scope->scope().version());
    json->EndObject();
    json->Key("traceId");
    WriteId(r.trace_id(), json);
    json->Key("spanId");
    WriteId(r.span_id(), json);
    json->Key("service");
    std::string service;
    for (const KeyValue& kv : e.resource->resource().attributes()) {
      if (kv.key() == "service.name") service = AnyValueAsString(kv.value());
    }
    json->String(service);
    json->EndObject();
  }
  json->EndArray();
  return entries.size();
}

}  // namespace otlpd::query
