// Spans per second through the loadbalancing exporter's routing: a request as the receiver
// hands it on (protobuf bytes in a Telemetry) is decoded, split by trace id over a ring of
// N backends, and each part encoded (what its queue stores and its sender sends). Against
// the decode alone, the difference is what routing adds per span.
//
// Workloads: realistic traces (tests/testing/realistic_traces.h, ~100 spans per request
// from a few traces) and the standard throughput workload of README §3 (100 spans per
// request, random trace ids: every span its own trace, the worst case for splitting).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/telemetry.h"
#include "exporters/loadbalancing/ring.h"
#include "exporters/loadbalancing/router.h"
#include "testing/realistic_traces.h"

namespace otlpd {
namespace {

constexpr int kRequests = 32;

struct Workload {
  std::vector<absl::Cord> requests;
  std::vector<size_t> items;
};

Workload MakeWorkload(bool realistic) {
  Workload w;
  std::mt19937_64 rng(42);
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  for (int i = 0; i < kRequests; ++i) {
    const TracesRequest request = realistic ? bench::MakeRealisticTraces(rng, 100, start)
                                            : bench::MakeRandomAttributeTraces(rng, 100, start);
    w.requests.push_back(absl::Cord(request.SerializeAsString()));
    w.items.push_back(CountItems(request));
  }
  return w;
}

const Workload& Get(bool realistic) {
  static const Workload* r = new Workload(MakeWorkload(true));
  static const Workload* s = new Workload(MakeWorkload(false));
  return realistic ? *r : *s;
}

HashRing Ring(int backends) {
  std::vector<std::string> members;
  for (int i = 0; i < backends; ++i) members.push_back(absl::StrCat("10.0.0.", i + 1, ":4317"));
  return HashRing(members);
}

void BM_DecodeOnly(benchmark::State& state) {
  const Workload& w = Get(state.range(0) != 0);
  size_t items = 0, i = 0;
  for (auto _ : state) {
    const size_t k = i++ % kRequests;
    TelemetryPtr t = Telemetry::FromWire(Signal::kTraces, w.requests[k], w.items[k]);
    benchmark::DoNotOptimize(t->traces().resource_spans_size());
    items += w.items[k];
  }
  state.SetItemsProcessed(static_cast<int64_t>(items));
}

void BM_SplitByTraceId(benchmark::State& state) {
  const Workload& w = Get(state.range(0) != 0);
  const HashRing ring = Ring(static_cast<int>(state.range(1)));
  auto pick = [&ring](uint64_t h) { return ring.Lookup(h); };
  size_t items = 0, parts = 0, i = 0;
  for (auto _ : state) {
    const size_t k = i++ % kRequests;
    TelemetryPtr t = Telemetry::FromWire(Signal::kTraces, w.requests[k], w.items[k]);
    for (const RoutedPart& p : SplitByRoutingKey(t, RoutingKey::kTraceId, pick)) {
      benchmark::DoNotOptimize(p.data->wire().size());
      ++parts;
    }
    items += w.items[k];
  }
  state.SetItemsProcessed(static_cast<int64_t>(items));
  state.counters["parts_per_request"] =
      benchmark::Counter(static_cast<double>(parts) / static_cast<double>(std::max<size_t>(1, i)));
}

// Args: (realistic, backends).
BENCHMARK(BM_DecodeOnly)->Arg(1)->Arg(0);
BENCHMARK(BM_SplitByTraceId)->Args({1, 3})->Args({0, 3})->Args({1, 10})->Args({0, 10});

}  // namespace
}  // namespace otlpd
