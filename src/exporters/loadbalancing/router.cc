#include "exporters/loadbalancing/router.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/batch_builder.h"
#include "exporters/loadbalancing/ring.h"

namespace otlpd {

namespace {

using google::protobuf::RepeatedPtrField;
using opentelemetry::proto::common::v1::InstrumentationScope;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::metrics::v1::Metric;
using opentelemetry::proto::resource::v1::Resource;

// Attributes in a canonical form (sorted by key, values as protobuf bytes), so that two
// resources with the same attributes in another order get the same key.
std::string CanonicalAttributes(const RepeatedPtrField<KeyValue>& attributes) {
  std::vector<std::pair<std::string_view, std::string>> sorted;
  sorted.reserve(attributes.size());
  for (const KeyValue& kv : attributes)
    sorted.emplace_back(kv.key(), kv.value().SerializeAsString());
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const auto& [k, v] : sorted) {
    absl::StrAppend(&out, k.size(), ":", absl::string_view(k.data(), k.size()), v.size(), ":", v);
  }
  return out;
}

std::string_view ServiceName(const Resource& resource) {
  for (const KeyValue& kv : resource.attributes()) {
    if (kv.key() == "service.name" && kv.value().has_string_value()) {
      return kv.value().string_value();
    }
  }
  return {};
}

// The key of a whole resource for service / resource routing.
uint64_t ResourceKeyHash(RoutingKey key, const Resource& resource) {
  if (key == RoutingKey::kService) return HashRoutingKey(ServiceName(resource));
  return HashRoutingKey(CanonicalAttributes(resource.attributes()));
}

// Destination per item, filled in CountItems order.
class Assigner {
 public:
  explicit Assigner(const std::function<int(uint64_t)>& pick) : pick_(pick) {}
  void Add(int destination) { dest_.push_back(destination); }
  int Pick(uint64_t hash) const { return pick_(hash); }
  // Same destination for consecutive items with the same id (spans of one trace usually
  // come together).
  int PickId(std::string_view id) {
    if (!last_id_valid_ || id != last_id_) {
      last_id_.assign(id.data(), id.size());
      last_id_valid_ = true;
      last_dest_ = pick_(HashRoutingKey(id));
    }
    return last_dest_;
  }
  std::vector<int>& destinations() { return dest_; }

 private:
  const std::function<int(uint64_t)>& pick_;
  std::vector<int> dest_;
  std::string last_id_;
  bool last_id_valid_ = false;
  int last_dest_ = 0;
};

void AssignTraces(const TracesRequest& request, RoutingKey key, Assigner* a) {
  for (const auto& rs : request.resource_spans()) {
    const int resource_dest =
        key == RoutingKey::kTraceId ? 0 : a->Pick(ResourceKeyHash(key, rs.resource()));
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        a->Add(key == RoutingKey::kTraceId ? a->PickId(span.trace_id()) : resource_dest);
      }
    }
  }
}

void AssignLogs(const LogsRequest& request, RoutingKey key, Assigner* a) {
  uint64_t position = 0;
  for (const auto& rl : request.resource_logs()) {
    const int resource_dest =
        key == RoutingKey::kTraceId ? 0 : a->Pick(ResourceKeyHash(key, rl.resource()));
    for (const auto& sl : rl.scope_logs()) {
      for (const auto& record : sl.log_records()) {
        ++position;
        if (key != RoutingKey::kTraceId) {
          a->Add(resource_dest);
        } else if (record.trace_id().empty()) {
          const uint64_t spread = position * 0x9E3779B97F4A7C15ull;
          a->Add(a->Pick(HashRoutingKey(
              std::string_view(reinterpret_cast<const char*>(&spread), sizeof(spread)))));
        } else {
          a->Add(a->PickId(record.trace_id()));
        }
      }
    }
  }
}

// Calls `each(points)` with the data points of `m`, whatever its type.
template <class Fn>
void ForDataPoints(const Metric& m, Fn each) {
  switch (m.data_case()) {
    case Metric::kGauge:
      each(m.gauge().data_points());
      break;
    case Metric::kSum:
      each(m.sum().data_points());
      break;
    case Metric::kHistogram:
      each(m.histogram().data_points());
      break;
    case Metric::kExponentialHistogram:
      each(m.exponential_histogram().data_points());
      break;
    case Metric::kSummary:
      each(m.summary().data_points());
      break;
    case Metric::DATA_NOT_SET:
      break;
  }
}

void AssignMetrics(const MetricsRequest& request, RoutingKey key, Assigner* a) {
  for (const auto& rm : request.resource_metrics()) {
    const bool per_resource = key == RoutingKey::kService || key == RoutingKey::kResource;
    const int resource_dest = per_resource ? a->Pick(ResourceKeyHash(key, rm.resource())) : 0;
    const std::string resource_key =
        key == RoutingKey::kStreamId ? CanonicalAttributes(rm.resource().attributes()) : "";
    for (const auto& sm : rm.scope_metrics()) {
      const InstrumentationScope& scope = sm.scope();
      for (const Metric& m : sm.metrics()) {
        if (key == RoutingKey::kStreamId) {
          // A stream: resource, scope, metric identity (name, unit, type) and the point's
          // attributes, each length-prefixed so that no two tuples run together.
          const std::string prefix = absl::StrCat(
              resource_key.size(), ":", resource_key, scope.name().size(), ":", scope.name(),
              scope.version().size(), ":", scope.version(), m.name().size(), ":", m.name(),
              m.unit().size(), ":", m.unit(), static_cast<int>(m.data_case()), ";");
          ForDataPoints(m, [&](const auto& points) {
            for (const auto& point : points) {
              a->Add(a->Pick(
                  HashRoutingKey(absl::StrCat(prefix, CanonicalAttributes(point.attributes())))));
            }
          });
          continue;
        }
        const int dest =
            key == RoutingKey::kMetric ? a->Pick(HashRoutingKey(m.name())) : resource_dest;
        ForDataPoints(m, [&](const auto& points) {
          for (int i = 0; i < points.size(); ++i) a->Add(dest);
        });
      }
    }
  }
}

}  // namespace

std::optional<RoutingKey> ParseRoutingKey(std::string_view name) {
  if (name == "traceID") return RoutingKey::kTraceId;
  if (name == "service") return RoutingKey::kService;
  if (name == "resource") return RoutingKey::kResource;
  if (name == "metric") return RoutingKey::kMetric;
  if (name == "streamID") return RoutingKey::kStreamId;
  return std::nullopt;
}

std::string_view RoutingKeyName(RoutingKey key) {
  switch (key) {
    case RoutingKey::kTraceId:
      return "traceID";
    case RoutingKey::kService:
      return "service";
    case RoutingKey::kResource:
      return "resource";
    case RoutingKey::kMetric:
      return "metric";
    case RoutingKey::kStreamId:
      return "streamID";
  }
  return "";
}

bool RoutingKeyApplies(RoutingKey key, Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return key == RoutingKey::kTraceId || key == RoutingKey::kService;
    case Signal::kLogs:
      return key == RoutingKey::kTraceId || key == RoutingKey::kService ||
             key == RoutingKey::kResource;
    case Signal::kMetrics:
      return key != RoutingKey::kTraceId;
  }
  return false;
}

RoutingKey DefaultRoutingKey(Signal signal) {
  return signal == Signal::kMetrics ? RoutingKey::kService : RoutingKey::kTraceId;
}

std::vector<RoutedPart> SplitByRoutingKey(const TelemetryPtr& data, RoutingKey key,
                                          const std::function<int(uint64_t)>& pick) {
  Assigner assigner(pick);
  switch (data->signal()) {
    case Signal::kTraces:
      AssignTraces(data->traces(), key, &assigner);
      break;
    case Signal::kLogs:
      AssignLogs(data->logs(), key, &assigner);
      break;
    case Signal::kMetrics:
      AssignMetrics(data->metrics(), key, &assigner);
      break;
  }
  const std::vector<int>& dest = assigner.destinations();
  std::vector<RoutedPart> parts;
  if (dest.empty()) return parts;
  if (std::all_of(dest.begin(), dest.end(), [&](int d) { return d == dest.front(); })) {
    parts.push_back(RoutedPart{dest.front(), data});
    return parts;
  }
  // Runs of consecutive items with one destination, gathered per destination.
  std::map<int, std::vector<ItemRange>> ranges;
  size_t begin = 0;
  for (size_t i = 1; i <= dest.size(); ++i) {
    if (i == dest.size() || dest[i] != dest[begin]) {
      ranges[dest[begin]].push_back(ItemRange{data, begin, i, dest.size()});
      begin = i;
    }
  }
  parts.reserve(ranges.size());
  for (auto& [destination, r] : ranges) {
    parts.push_back(RoutedPart{destination, BuildBatch(data->signal(), r)});
  }
  return parts;
}

}  // namespace otlpd
