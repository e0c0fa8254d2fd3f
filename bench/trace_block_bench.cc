// Warm/cold trace blocks (src/storage/trace_block.h): encode and decode throughput,
// GetTrace latency, and the size report README §4 holds the format to:
//   realistic traces (bench/realistic_traces.h, 200k+ spans): warm (zstd 3) ≥ 12× and
//   cold (zstd 19) ≥ 15× smaller than the OTLP protobuf they came from, and warm ≥ 1.5×
//   smaller than zstd -19 over the same protobuf stream; the random-attribute workload's
//   ratio is reported without a target.
// The size report prints before the benchmarks run:
//   build/bench/trace_block_bench --benchmark_filter=Realistic
#include <benchmark/benchmark.h>
#include <zstd.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "storage/trace_block.h"
#include "testing/realistic_traces.h"

namespace otlpd {
namespace {

using bench::TracesRequest;
using storage::TraceBlockBuilder;
using storage::TraceBlockMeta;
using storage::TraceBlockReader;
using storage::TraceId;

constexpr size_t kRealisticSpans = 200'000;
const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

struct Workload {
  std::vector<TracesRequest> requests;
  std::string protobuf;  // the serialized requests, concatenated
  size_t spans = 0;
  std::vector<TraceId> trace_ids;
};

// Requests of ~1,000 spans (a collector batch), one after another in time.
Workload MakeWorkload(bool realistic, size_t total_spans) {
  Workload w;
  std::mt19937_64 rng(42);
  absl::Time t = kStart;
  while (w.spans < total_spans) {
    TracesRequest r = realistic ? bench::MakeRealisticTraces(rng, 1000, t)
                                : bench::MakeRandomAttributeTraces(rng, 100, t);
    t += absl::Seconds(realistic ? 5 : 1);
    for (const auto& rs : r.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          ++w.spans;
          if (w.trace_ids.size() < 100000 && span.trace_id().size() == 16) {
            TraceId id;
            std::memcpy(id.data(), span.trace_id().data(), 16);
            w.trace_ids.push_back(id);
          }
        }
      }
    }
    w.protobuf.append(r.SerializeAsString());
    w.requests.push_back(std::move(r));
  }
  return w;
}

const Workload& Realistic() {
  static const Workload* w = new Workload(MakeWorkload(true, kRealisticSpans));
  return *w;
}
const Workload& RandomAttrs() {
  static const Workload* w = new Workload(MakeWorkload(false, 100'000));
  return *w;
}

std::string Encode(const Workload& w, int level, TraceBlockMeta* meta) {
  TraceBlockBuilder builder;
  for (const auto& r : w.requests) {
    for (const auto& rs : r.resource_spans()) builder.Add(rs);
  }
  absl::StatusOr<std::string> block = builder.Finish(level, meta);
  if (!block.ok()) {
    std::fprintf(stderr, "encode failed: %s\n", block.status().ToString().c_str());
    std::abort();
  }
  return *std::move(block);
}

size_t Zstd19(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  return ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 19);
}

void SizeReport(const char* name, const Workload& w) {
  const double spans = static_cast<double>(w.spans);
  const double pb = static_cast<double>(w.protobuf.size());
  const double z19 = static_cast<double>(Zstd19(w.protobuf));
  std::printf(
      "%s: %zu spans in %zu requests, OTLP protobuf %.1f B/span, zstd-19 of it %.1f B/span "
      "(%.1fx)\n",
      name, w.spans, w.requests.size(), pb / spans, z19 / spans, pb / z19);
  for (int level : {3, 19}) {
    TraceBlockMeta meta;
    const absl::Time t0 = absl::Now();
    const std::string block = Encode(w, level, &meta);
    const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
    const double size = static_cast<double>(block.size());
    std::printf(
        "  block zstd %2d: %.1f B/span, %.1fx smaller than protobuf, %.2fx smaller than zstd-19 "
        "(encode %.2f s, %.0f k spans/s)\n",
        level, size / spans, pb / size, z19 / size, secs, spans / secs / 1000);
  }
  std::fflush(stdout);
}

void BM_EncodeRealistic(benchmark::State& state) {
  const Workload& w = Realistic();
  const int level = static_cast<int>(state.range(0));
  size_t bytes = 0;
  for (auto _ : state) {
    TraceBlockMeta meta;
    bytes = Encode(w, level, &meta).size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.spans));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.protobuf.size()));
  state.counters["B/span"] = static_cast<double>(bytes) / static_cast<double>(w.spans);
}
BENCHMARK(BM_EncodeRealistic)->Arg(3)->Arg(19)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_DecodeAllRealistic(benchmark::State& state) {
  const Workload& w = Realistic();
  TraceBlockMeta meta;
  const std::string block = Encode(w, static_cast<int>(state.range(0)), &meta);
  for (auto _ : state) {
    absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(block);
    absl::StatusOr<opentelemetry::proto::trace::v1::TracesData> all = reader->ReadAll();
    if (!all.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(all);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.spans));
}
BENCHMARK(BM_DecodeAllRealistic)->Arg(3)->Arg(19)->Unit(benchmark::kMillisecond);

// GetTrace on an open reader (columns decompressed on first use and kept).
void BM_GetTraceRealistic(benchmark::State& state) {
  const Workload& w = Realistic();
  TraceBlockMeta meta;
  absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(Encode(w, 3, &meta));
  size_t i = 0;
  for (auto _ : state) {
    auto got = reader->GetTrace(w.trace_ids[(i++ * 7919) % w.trace_ids.size()]);
    if (!got.ok() || !got->has_value()) state.SkipWithError("trace not found");
    benchmark::DoNotOptimize(got);
  }
}
BENCHMARK(BM_GetTraceRealistic)->Unit(benchmark::kMicrosecond);

// GetTrace on a freshly opened block: includes reading the columns it needs.
void BM_GetTraceColdReader(benchmark::State& state) {
  const Workload& w = Realistic();
  TraceBlockMeta meta;
  const std::string block = Encode(w, 3, &meta);
  size_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(block);
    auto got = reader->GetTrace(w.trace_ids[(i++ * 7919) % w.trace_ids.size()]);
    if (!got.ok() || !got->has_value()) state.SkipWithError("trace not found");
    benchmark::DoNotOptimize(got);
  }
}
BENCHMARK(BM_GetTraceColdReader)->Unit(benchmark::kMillisecond);

void BM_SearchRealistic(benchmark::State& state) {
  const Workload& w = Realistic();
  TraceBlockMeta meta;
  absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(Encode(w, 3, &meta));
  storage::TraceQuery q;
  q.service = "cart";
  q.tags = {{"http.response.status_code", "500"}};
  for (auto _ : state) {
    std::vector<std::pair<TraceId, int64_t>> out;
    if (!reader->Search(q, &out).ok()) state.SkipWithError("search failed");
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.spans));
}
BENCHMARK(BM_SearchRealistic)->Unit(benchmark::kMillisecond);

void BM_EncodeRandomAttributes(benchmark::State& state) {
  const Workload& w = RandomAttrs();
  for (auto _ : state) {
    TraceBlockMeta meta;
    benchmark::DoNotOptimize(Encode(w, 3, &meta));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.spans));
}
BENCHMARK(BM_EncodeRandomAttributes)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace otlpd

// --size_report=false skips the size report (e.g. when profiling one benchmark).
int main(int argc, char** argv) {
  bool size_report = true;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--size_report=false") {
      size_report = false;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (size_report) {
    otlpd::SizeReport("realistic", otlpd::Realistic());
    otlpd::SizeReport("random-attribute", otlpd::RandomAttrs());
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
