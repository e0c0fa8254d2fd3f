#include "processors/traffic_observer/traffic_observer_processor.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "storage/wire_reader.h"

namespace otlpd {

namespace {

using storage::WireReader;

// Resource.attributes (1) -> KeyValue{key 1, value 2 -> AnyValue.string_value 1}.
std::string_view ServiceName(std::string_view resource) {
  WireReader r(resource);
  while (r.Next()) {
    if (r.field() != 1 || r.type() != WireReader::kLen) continue;
    WireReader kv(r.bytes());
    std::string_view key, value;
    bool has_value = false;
    while (kv.Next()) {
      if (kv.type() != WireReader::kLen) continue;
      if (kv.field() == 1) key = kv.bytes();
      if (kv.field() == 2) {
        value = kv.bytes();
        has_value = true;
      }
    }
    if (key != "service.name" || !has_value) continue;
    WireReader any(value);
    while (any.Next()) {
      if (any.field() == 1 && any.type() == WireReader::kLen) return any.bytes();
    }
  }
  return {};
}

}  // namespace

void CountRootSpans(
    std::string_view request,
    const std::function<void(std::string_view, std::string_view, uint64_t)>& report) {
  absl::flat_hash_map<std::pair<std::string_view, std::string_view>, uint64_t> counts;
  WireReader top(request);
  while (top.Next()) {
    if (top.field() != 1 || top.type() != WireReader::kLen) continue;  // resource_spans
    std::string_view service;
    // Resource (1) may come after the scope spans (2) on the wire: find it first.
    {
      WireReader rs(top.bytes());
      while (rs.Next()) {
        if (rs.field() == 1 && rs.type() == WireReader::kLen) service = ServiceName(rs.bytes());
      }
    }
    WireReader rs(top.bytes());
    while (rs.Next()) {
      if (rs.field() != 2 || rs.type() != WireReader::kLen) continue;  // scope_spans
      WireReader ss(rs.bytes());
      while (ss.Next()) {
        if (ss.field() != 2 || ss.type() != WireReader::kLen) continue;  // spans
        WireReader span(ss.bytes());
        std::string_view name;
        bool root = true;
        bool named = false;
        while (span.Next()) {
          // Encoders write fields in number order, so past the name (5) nothing of
          // interest follows: skip the attributes, events and links.
          if (named && span.field() > 5) break;
          if (span.type() != WireReader::kLen) continue;
          if (span.field() == 4 && !span.bytes().empty()) root = false;  // parent_span_id
          if (span.field() == 5) {
            name = span.bytes();
            named = true;
          }
        }
        if (root) ++counts[{service, name}];
      }
    }
  }
  for (const auto& [key, n] : counts) report(key.first, key.second, n);
}

void TrafficObserverProcessor::Consume(TelemetryPtr data, Completion done) {
  const absl::Cord& wire = data->wire();
  std::string flat;
  std::string_view bytes;
  if (absl::optional<absl::string_view> f = wire.TryFlat()) {
    bytes = std::string_view(f->data(), f->size());
  } else {
    absl::CopyCordToString(wire, &flat);  // a merged batch: one copy
    bytes = flat;
  }
  CountRootSpans(bytes,
                 [this](std::string_view service, std::string_view operation, uint64_t traces) {
                   observer_->ObserveTraces(service, operation, traces);
                 });
  next_->Consume(std::move(data), std::move(done));
}

}  // namespace otlpd
