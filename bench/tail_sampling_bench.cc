// tail_sampling: what holding a span costs (bytes of memory and of buffer per held span) and
// how fast spans go in (Consume until synced into the segment log) and out (decided and
// forwarded), on realistic traces (tests/testing/realistic_traces.h, ~100 spans a request,
// several spans per trace) and on the standard workload of README §3 (every span its own
// trace, 10 random 20-character attributes).
//
//   build/bench/tail_sampling_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/config_node.h"
#include "core/otlp_wire.h"
#include "core/telemetry.h"
#include "processors/tail_sampling/config.h"
#include "processors/tail_sampling/factory.h"
#include "processors/tail_sampling/tail_sampling_processor.h"
#include "testing/realistic_traces.h"

namespace otlpd {
namespace {

class BenchHost : public Host {
 public:
  MetricsRegistry& metrics() override { return registry_; }
  bool Healthy() const override { return true; }
  absl::StatusOr<Extension*> GetExtension(const ComponentId&) const override {
    return absl::NotFoundError("none");
  }
  absl::StatusOr<Exporter*> GetExporter(const ComponentId&) const override {
    return absl::NotFoundError("none");
  }

 private:
  MetricsRegistry registry_;
};

class Discard : public Consumer {
 public:
  void Consume(TelemetryPtr data, Completion done) override {
    spans_ += static_cast<int64_t>(data->ItemCount());
    std::move(done)(absl::OkStatus());
  }
  std::atomic<int64_t> spans_{0};
};

std::vector<std::pair<TelemetryPtr, size_t>> MakeRequests(bool realistic, int n) {
  std::mt19937_64 rng(7);
  std::vector<std::pair<TelemetryPtr, size_t>> out;
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  for (int i = 0; i < n; ++i) {
    TracesRequest r = realistic ? bench::MakeRealisticTraces(rng, 100, start)
                                : bench::MakeRandomAttributeTraces(rng, 100, start);
    std::string bytes = r.SerializeAsString();
    size_t items = ScanOtlpRequest(Signal::kTraces, bytes)->items;
    auto data = Telemetry::FromWire(Signal::kTraces, absl::Cord(std::move(bytes)), items);
    // Decoded now (the processor decodes to split by trace, and a Telemetry keeps what it
    // decoded), so that the memory measured below is the processor's, not the workload's.
    data->traces();
    out.emplace_back(std::move(data), items);
  }
  return out;
}

long RssBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, rss = 0;
  statm >> pages >> rss;
  return rss * 4096;
}

struct Setup {
  std::string dir;
  BenchHost host;
  std::shared_ptr<Discard> sink = std::make_shared<Discard>();
  std::unique_ptr<TailSamplingProcessor> proc;
  explicit Setup(const std::string& policies, const std::string& durability = "none") {
    spdlog::set_level(spdlog::level::err);  // "traces stay pending" at every teardown
    dir = absl::StrCat("/tmp/tail-sampling-bench-", getpid());
    std::filesystem::remove_all(dir);
    Diagnostics diag;
    ConfigNode node(YAML::Load(absl::StrCat("decision_wait: 1h\nnum_traces: 10000000\n"
                                            "max_buffer_bytes: 8GiB\ndurability: ",
                                            durability, "\ndirectory: ", dir, "\n", policies)),
                    "processors::tail_sampling", &diag);
    auto factory = NewTailSamplingProcessorFactory();
    auto config = factory->ParseConfig(node);
    if (!diag.ok()) {
      std::fprintf(stderr, "%s\n", diag.Format().c_str());
      std::abort();
    }
    CreateSettings settings{{"tail_sampling", ""}, &host};
    auto p = factory->Create(settings, *config, Signal::kTraces, sink);
    proc.reset(dynamic_cast<TailSamplingProcessor*>(p->release()));
    if (!proc->Start().ok()) std::abort();
  }
  ~Setup() {
    proc.reset();
    std::filesystem::remove_all(dir);
  }
  // Consumes `requests` with `in_flight` requests outstanding at a time.
  void Ingest(const std::vector<std::pair<TelemetryPtr, size_t>>& requests, int in_flight) {
    absl::Mutex mu;
    int outstanding = 0;
    auto has_room = [&]() { return outstanding < in_flight; };
    auto drained = [&]() { return outstanding == 0; };
    for (const auto& [data, items] : requests) {
      {
        absl::MutexLock lock(&mu);
        mu.Await(absl::Condition(&has_room));
        ++outstanding;
      }
      proc->Consume(data, [&](absl::Status s) {
        if (!s.ok()) std::abort();
        absl::MutexLock lock(&mu);
        --outstanding;
      });
    }
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&drained));
  }
};

constexpr char kAlways[] = "policies: [{name: a, type: always_sample}]\n";

// Spans/s into the buffer (Consume until the log has them), 8 requests in flight.
template <bool kRealistic>
void BM_Ingest(benchmark::State& state) {
  static const auto requests = MakeRequests(kRealistic, 200);
  const std::string durability = state.range(0) ? "fsync" : "none";
  int64_t spans = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto setup = std::make_unique<Setup>(kAlways, durability);
    state.ResumeTiming();
    setup->Ingest(requests, 8);
    for (const auto& r : requests) spans += static_cast<int64_t>(r.second);
    state.PauseTiming();
    setup.reset();
    state.ResumeTiming();
  }
  state.counters["spans/s"] =
      benchmark::Counter(static_cast<double>(spans), benchmark::Counter::kIsRate);
}

// What holding spans costs, with 100 k spans pending: the processor's index (its own
// accounting), the process's RSS growth (index plus what the allocator keeps of the
// transient per-request buffers) and the segment log's bytes on disk.
template <bool kRealistic>
void BM_BytesPerHeldSpan(benchmark::State& state) {
  static const auto requests = MakeRequests(kRealistic, 1000);
  for (auto _ : state) {
    auto setup = std::make_unique<Setup>(kAlways);
    const long before = RssBytes();
    setup->Ingest(requests, 8);
    const long after = RssBytes();
    const double spans = static_cast<double>(setup->proc->pending_spans());
    state.counters["held_spans"] = spans;
    state.counters["held_traces"] = static_cast<double>(setup->proc->pending_traces());
    state.counters["rss_bytes/span"] = static_cast<double>(after - before) / spans;
    state.counters["index_bytes/span"] = static_cast<double>(setup->proc->index_bytes()) / spans;
    state.counters["buffer_bytes/span"] =
        static_cast<double>(setup->proc->log_stats().bytes) / spans;
  }
}

// Spans/s decided and forwarded (Shutdown decides everything pending: read back, policies,
// th written, handed on).
template <bool kRealistic>
void BM_Decide(benchmark::State& state) {
  static const auto requests = MakeRequests(kRealistic, 200);
  int64_t spans = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto setup = std::make_unique<Setup>(
        "policies:\n  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
        "  - {name: p, type: probabilistic, probabilistic: {sampling_percentage: 10}}\n");
    setup->Ingest(requests, 8);
    const int64_t pending = setup->proc->pending_spans();
    state.ResumeTiming();
    setup->proc->Shutdown(absl::Now() + absl::Seconds(60));
    spans += pending;
    state.PauseTiming();
    setup.reset();
    state.ResumeTiming();
  }
  state.counters["spans/s"] =
      benchmark::Counter(static_cast<double>(spans), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Ingest<true>)
    ->Name("Realistic/Ingest")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Ingest<false>)
    ->Name("Standard/Ingest")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_BytesPerHeldSpan<true>)
    ->Name("Realistic/BytesPerHeldSpan")
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BytesPerHeldSpan<false>)
    ->Name("Standard/BytesPerHeldSpan")
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decide<true>)->Name("Realistic/Decide")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Decide<false>)->Name("Standard/Decide")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace otlpd
