// Splitting requests by routing key: no trace (or stream, metric, resource) is ever split
// across destinations, nothing is lost or duplicated, every part keeps its items' resource
// and scope, and a request that goes to one destination is passed on untouched.
#include "exporters/loadbalancing/router.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "exporters/loadbalancing/ring.h"
#include "testing/otlp_data.h"

namespace otlpd {
namespace {

using testing::HexId;
using testing::MakeLogs;
using testing::MakeMetrics;
using testing::MakeTraceId;
using testing::MakeTraces;
using testing::SampleOptions;

template <class Request>
TelemetryPtr Wrap(Signal signal, const Request& request) {
  auto t = std::make_shared<Telemetry>(signal);
  t->mutable_message()->CopyFrom(request);
  return t;
}

// Spans of `traces` distinct trace ids, interleaved, spread over several resources.
TracesRequest InterleavedTraces(int traces, int spans_per_trace) {
  SampleOptions o;
  o.resources = 3;
  o.scopes_per_resource = 2;
  o.items_per_scope = traces * spans_per_trace / 6;
  o.rich = false;
  TracesRequest r = MakeTraces(o);
  int i = 0;
  for (auto& rs : *r.mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) span.set_trace_id(MakeTraceId(7, i++ % traces));
    }
  }
  return r;
}

// A pick over a 4-member ring.
struct FourWay {
  HashRing ring{{"a:1", "b:1", "c:1", "d:1"}};
  int operator()(uint64_t h) const { return ring.Lookup(h); }
};

TEST(RouterTest, TraceIdKeepsEveryTraceWholeAndLosesNothing) {
  const TracesRequest in = InterleavedTraces(40, 12);
  TelemetryPtr data = Wrap(Signal::kTraces, in);
  FourWay pick;
  std::vector<RoutedPart> parts = SplitByRoutingKey(data, RoutingKey::kTraceId, pick);
  ASSERT_GT(parts.size(), 1u);
  std::map<std::string, int> trace_dest;
  std::multiset<std::string> spans_out;
  size_t items = 0;
  for (const RoutedPart& p : parts) {
    // Each part survives its own encoding (what the queues store and send).
    TracesRequest decoded;
    ASSERT_TRUE(ParseFromCord(p.data->wire(), &decoded));
    items += CountItems(decoded);
    for (const auto& rs : decoded.resource_spans()) {
      EXPECT_GT(rs.resource().attributes_size(), 0) << "resource lost in a part";
      for (const auto& ss : rs.scope_spans()) {
        EXPECT_FALSE(ss.scope().name().empty()) << "scope lost in a part";
        for (const auto& span : ss.spans()) {
          auto [it, fresh] = trace_dest.emplace(span.trace_id(), p.destination);
          EXPECT_EQ(it->second, p.destination) << "trace " << HexId(span.trace_id()) << " split";
          EXPECT_EQ(p.destination, pick(HashRoutingKey(span.trace_id())));
          spans_out.insert(span.trace_id() + span.span_id());
        }
      }
    }
  }
  EXPECT_EQ(items, CountItems(in));
  EXPECT_EQ(trace_dest.size(), 40u);
  std::multiset<std::string> spans_in;
  for (const auto& rs : in.resource_spans())
    for (const auto& ss : rs.scope_spans())
      for (const auto& span : ss.spans()) spans_in.insert(span.trace_id() + span.span_id());
  EXPECT_EQ(spans_in, spans_out);
}

TEST(RouterTest, OneDestinationPassesTheRequestOnUntouched) {
  TelemetryPtr data = Wrap(Signal::kTraces, InterleavedTraces(5, 4));
  std::vector<RoutedPart> parts =
      SplitByRoutingKey(data, RoutingKey::kTraceId, [](uint64_t) { return 3; });
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].destination, 3);
  EXPECT_EQ(parts[0].data.get(), data.get());
}

TEST(RouterTest, EmptyRequestGivesNoParts) {
  TelemetryPtr data = std::make_shared<Telemetry>(Signal::kTraces);
  EXPECT_TRUE(SplitByRoutingKey(data, RoutingKey::kTraceId, FourWay()).empty());
}

TEST(RouterTest, ServiceKeyRoutesWholeResourcesByServiceName) {
  TracesRequest in;
  for (int s = 0; s < 12; ++s) {
    SampleOptions o;
    o.seed = s + 1;
    o.service_name = "svc-" + std::to_string(s % 6);  // each service twice
    o.rich = false;
    in.MergeFrom(MakeTraces(o));
  }
  FourWay pick;
  std::vector<RoutedPart> parts =
      SplitByRoutingKey(Wrap(Signal::kTraces, in), RoutingKey::kService, pick);
  std::map<std::string, std::set<int>> service_dest;
  size_t items = 0;
  for (const RoutedPart& p : parts) {
    items += p.data->ItemCount();
    for (const auto& rs : p.data->traces().resource_spans()) {
      for (const auto& kv : rs.resource().attributes()) {
        if (kv.key() == "service.name")
          service_dest[kv.value().string_value()].insert(p.destination);
      }
    }
  }
  EXPECT_EQ(items, CountItems(in));
  ASSERT_EQ(service_dest.size(), 6u);
  std::set<int> used;
  for (const auto& [service, dests] : service_dest) {
    EXPECT_EQ(dests.size(), 1u) << service;
    used.insert(*dests.begin());
  }
  EXPECT_GT(used.size(), 1u);
}

TEST(RouterTest, MetricKeyKeepsEachMetricTogether) {
  SampleOptions o;
  o.resources = 2;
  o.items_per_scope = 20;
  const MetricsRequest in = MakeMetrics(o);
  FourWay pick;
  std::vector<RoutedPart> parts =
      SplitByRoutingKey(Wrap(Signal::kMetrics, in), RoutingKey::kMetric, pick);
  std::map<std::string, std::set<int>> metric_dest;
  size_t items = 0;
  for (const RoutedPart& p : parts) {
    items += p.data->ItemCount();
    for (const auto& rm : p.data->metrics().resource_metrics())
      for (const auto& sm : rm.scope_metrics())
        for (const auto& m : sm.metrics()) {
          metric_dest[m.name()].insert(p.destination);
          EXPECT_EQ(p.destination, pick(HashRoutingKey(m.name())));
        }
  }
  EXPECT_EQ(items, CountItems(in));
  for (const auto& [name, dests] : metric_dest) EXPECT_EQ(dests.size(), 1u) << name;
  EXPECT_GT(parts.size(), 1u);
}

TEST(RouterTest, StreamIdSendsEqualStreamsTogetherAndSpreadsOthers) {
  // The same request twice in one: every stream appears twice, and both copies of each
  // data point must land together.
  SampleOptions o;
  o.resources = 2;
  o.items_per_scope = 15;
  MetricsRequest in = MakeMetrics(o);
  in.MergeFrom(MakeMetrics(o));
  FourWay pick;
  std::vector<RoutedPart> parts =
      SplitByRoutingKey(Wrap(Signal::kMetrics, in), RoutingKey::kStreamId, pick);
  size_t items = 0;
  std::map<std::string, std::set<int>> stream_dest;  // serialized point (ids equal per copy)
  for (const RoutedPart& p : parts) {
    items += p.data->ItemCount();
    for (const auto& rm : p.data->metrics().resource_metrics())
      for (const auto& sm : rm.scope_metrics())
        for (const auto& m : sm.metrics()) {
          if (m.has_gauge())
            for (const auto& dp : m.gauge().data_points())
              stream_dest[m.name() + dp.SerializeAsString()].insert(p.destination);
          if (m.has_sum())
            for (const auto& dp : m.sum().data_points())
              stream_dest[m.name() + dp.SerializeAsString()].insert(p.destination);
        }
  }
  EXPECT_EQ(items, CountItems(in));
  ASSERT_FALSE(stream_dest.empty());
  for (const auto& [stream, dests] : stream_dest) EXPECT_EQ(dests.size(), 1u);
  EXPECT_GT(parts.size(), 1u);
}

TEST(RouterTest, LogsByTraceIdKeepTracesTogether) {
  SampleOptions o;
  o.resources = 2;
  o.items_per_scope = 60;
  o.rich = false;
  LogsRequest in = MakeLogs(o);
  int i = 0;
  for (auto& rl : *in.mutable_resource_logs())
    for (auto& sl : *rl.mutable_scope_logs())
      for (auto& rec : *sl.mutable_log_records()) rec.set_trace_id(MakeTraceId(3, i++ % 9));
  FourWay pick;
  std::vector<RoutedPart> parts =
      SplitByRoutingKey(Wrap(Signal::kLogs, in), RoutingKey::kTraceId, pick);
  std::map<std::string, std::set<int>> trace_dest;
  size_t items = 0;
  for (const RoutedPart& p : parts) {
    items += p.data->ItemCount();
    for (const auto& rl : p.data->logs().resource_logs())
      for (const auto& sl : rl.scope_logs())
        for (const auto& rec : sl.log_records()) trace_dest[rec.trace_id()].insert(p.destination);
  }
  EXPECT_EQ(items, CountItems(in));
  EXPECT_EQ(trace_dest.size(), 9u);
  for (const auto& [trace, dests] : trace_dest) EXPECT_EQ(dests.size(), 1u);
}

TEST(RouterTest, RoutingKeyNamesAndSignals) {
  for (RoutingKey k : {RoutingKey::kTraceId, RoutingKey::kService, RoutingKey::kResource,
                       RoutingKey::kMetric, RoutingKey::kStreamId}) {
    EXPECT_EQ(ParseRoutingKey(RoutingKeyName(k)), k);
  }
  EXPECT_FALSE(ParseRoutingKey("traceid").has_value());  // otelcol's spelling only
  EXPECT_TRUE(RoutingKeyApplies(RoutingKey::kTraceId, Signal::kTraces));
  EXPECT_FALSE(RoutingKeyApplies(RoutingKey::kMetric, Signal::kTraces));
  EXPECT_FALSE(RoutingKeyApplies(RoutingKey::kTraceId, Signal::kMetrics));
  EXPECT_TRUE(RoutingKeyApplies(RoutingKey::kResource, Signal::kLogs));
  EXPECT_EQ(DefaultRoutingKey(Signal::kTraces), RoutingKey::kTraceId);
  EXPECT_EQ(DefaultRoutingKey(Signal::kLogs), RoutingKey::kTraceId);
  EXPECT_EQ(DefaultRoutingKey(Signal::kMetrics), RoutingKey::kService);
}

}  // namespace
}  // namespace otlpd
