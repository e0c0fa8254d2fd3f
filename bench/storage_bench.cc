// storage_bench: the tiered store's figures on realistic traces (tests/testing/
// realistic_traces.h), through the storage library without the daemon:
//   - durable ingest into hot (fsync group commit) from concurrent appenders, spans/s and
//     spans/s per core of the process,
//   - restart-to-ready (reopen = replay the log into the index), s per GB of log,
//   - trace by id and attribute-equality search (limit 20) in hot: p50/p99 and p50/p95,
//   - migration hot -> warm (spans/s), warm size vs the OTLP protobuf it came from,
//   - the same lookups in warm (page cache warm), recompaction into cold and lookups there,
//   - realistic logs: warm size against their protobuf and zstd -19 of it.
//
//   storage_bench [--spans N] [--dir DIR] [--threads T] [--queries Q]
// Defaults: 1,000,000 spans (CI-sized); the README's figures use --spans 10000000.
#include <sys/resource.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "storage/tiered_store.h"
#include "testing/realistic_logs.h"
#include "testing/realistic_traces.h"

namespace {

using otlpd::Signal;
using otlpd::storage::TieredStore;
using otlpd::storage::TieredStoreOptions;
using otlpd::storage::TraceId;
using otlpd::storage::TraceQuery;

double CpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

struct Workload {
  std::vector<std::string> requests;                      // serialized ExportTraceServiceRequest
  std::vector<TraceId> trace_ids;                         // a sample
  std::vector<std::pair<std::string, std::string>> tags;  // string attributes seen
  uint64_t spans = 0;
  uint64_t bytes = 0;
};

Workload Generate(uint64_t spans) {
  Workload w;
  std::mt19937_64 rng(2026);
  absl::Time t = absl::Now() - absl::Minutes(30);
  while (w.spans < spans) {
    auto req = otlpd::bench::MakeRealisticTraces(rng, 1000, t);
    t += absl::Milliseconds(200);
    for (const auto& rs : req.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          ++w.spans;
          if (rng() % 97 == 0) {
            TraceId id;
            std::memcpy(id.data(), span.trace_id().data(), 16);
            w.trace_ids.push_back(id);
          }
          if (rng() % 211 == 0) {
            for (const auto& kv : span.attributes()) {
              if (kv.value().has_string_value() && rng() % 3 == 0) {
                w.tags.emplace_back(kv.key(), kv.value().string_value());
              }
            }
          }
        }
      }
    }
    w.requests.push_back(req.SerializeAsString());
    w.bytes += w.requests.back().size();
  }
  return w;
}

std::vector<double> TimeLookups(TieredStore& store, const Workload& w, size_t n, bool* all_found) {
  std::vector<double> ms;
  std::mt19937_64 rng(7);
  *all_found = true;
  for (size_t i = 0; i < n && !w.trace_ids.empty(); ++i) {
    const TraceId& id = w.trace_ids[rng() % w.trace_ids.size()];
    absl::Time t0 = absl::Now();
    auto t = store.GetTrace(id);
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    if (!t.ok() || !t->has_value()) *all_found = false;
  }
  return ms;
}

std::vector<double> TimeSearches(TieredStore& store, const Workload& w, size_t n) {
  std::vector<double> ms;
  std::mt19937_64 rng(9);
  for (size_t i = 0; i < n && !w.tags.empty(); ++i) {
    TraceQuery q;
    q.tags = {w.tags[rng() % w.tags.size()]};
    q.limit = 20;
    absl::Time t0 = absl::Now();
    auto r = store.FindTraces(q);
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    if (!r.ok() || r->empty()) std::fprintf(stderr, "search found nothing\n");
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t spans = 1'000'000;
  int threads = 8;
  size_t queries = 2000;
  std::string dir = "/tmp/otlpd-storage-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--spans") (void)absl::SimpleAtoi(argv[i + 1], &spans);
    if (flag == "--threads") (void)absl::SimpleAtoi(argv[i + 1], &threads);
    if (flag == "--queries") (void)absl::SimpleAtoi(argv[i + 1], &queries);
    if (flag == "--dir") dir = argv[i + 1];
  }
  std::filesystem::remove_all(dir);
  std::printf("generating %llu realistic spans...\n", static_cast<unsigned long long>(spans));
  Workload w = Generate(spans);
  std::printf("%llu spans in %zu requests, %.1f MB of OTLP protobuf (%.0f B/span)\n",
              static_cast<unsigned long long>(w.spans), w.requests.size(), w.bytes / 1e6,
              static_cast<double>(w.bytes) / static_cast<double>(w.spans));

  TieredStoreOptions o;
  o.directory = dir;
  o.hot.max_size = uint64_t{64} << 30;
  o.hot.max_age = absl::Hours(24);
  o.lifecycle_interval = absl::Hours(24);  // migration runs when this program says
  auto store = TieredStore::Open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }

  // 1. Durable ingest: `threads` appenders, each with up to 4 appends in flight.
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> failed{0};
  const double cpu0 = CpuSeconds();
  const absl::Time t0 = absl::Now();
  std::vector<std::thread> appenders;
  for (int t = 0; t < threads; ++t) {
    appenders.emplace_back([&] {
      absl::Mutex mu;
      int in_flight = 0;
      for (size_t i; (i = next.fetch_add(1)) < w.requests.size();) {
        {
          absl::MutexLock lock(&mu);
          auto room = [&] { return in_flight < 4; };
          mu.Await(absl::Condition(&room));
          ++in_flight;
        }
        (*store)->Append(Signal::kTraces, absl::Cord(w.requests[i]), [&](absl::Status s) {
          if (!s.ok()) failed++;
          absl::MutexLock lock(&mu);
          --in_flight;
        });
      }
      absl::MutexLock lock(&mu);
      auto idle = [&] { return in_flight == 0; };
      mu.Await(absl::Condition(&idle));
    });
  }
  for (auto& a : appenders) a.join();
  const double ingest_s = absl::ToDoubleSeconds(absl::Now() - t0);
  const double ingest_cpu = CpuSeconds() - cpu0;
  std::printf(
      "ingest (hot, fsync group commit, %d appenders): %.0f spans/s, %.2f cores busy, "
      "%.0f spans/s per core, %llu failed\n",
      threads, w.spans / ingest_s, ingest_cpu / ingest_s, w.spans / ingest_cpu,
      static_cast<unsigned long long>(failed.load()));

  // 2. Restart-to-ready.
  const uint64_t hot_bytes = (*store)->hot_stats().bytes;
  store->reset();
  absl::Time r0 = absl::Now();
  store = TieredStore::Open(o);
  const double ready_s = absl::ToDoubleSeconds(absl::Now() - r0);
  std::printf("restart-to-ready: %.2f s for %.2f GB of hot log (%.2f s per GB), %llu spans\n",
              ready_s, hot_bytes / 1e9, ready_s / (hot_bytes / 1e9),
              static_cast<unsigned long long>((*store)->hot_stats().spans));

  // 3. Hot lookups.
  bool found = false;
  auto hot_get = TimeLookups(**store, w, queries, &found);
  bool all_found = found;
  std::printf("hot trace by id: p50 %.3f ms, p99 %.3f ms (%zu lookups, all found: %s)\n",
              Percentile(hot_get, 0.5), Percentile(hot_get, 0.99), hot_get.size(),
              found ? "yes" : "NO");
  auto hot_search = TimeSearches(**store, w, queries / 10);
  std::printf("hot attribute search, limit 20: p50 %.2f ms, p95 %.2f ms\n",
              Percentile(hot_search, 0.5), Percentile(hot_search, 0.95));

  // 4. Migration to warm.
  store->reset();
  o.hot.max_age = absl::Milliseconds(1);
  o.warm.block_window = absl::Hours(24);
  store = TieredStore::Open(o);
  absl::Time m0 = absl::Now();
  const double mcpu0 = CpuSeconds();
  size_t moved = 0;
  while (true) {
    auto n = (*store)->RunLifecycle(/*flush=*/true);
    if (!n.ok()) {
      std::fprintf(stderr, "lifecycle: %s\n", n.status().ToString().c_str());
      return 1;
    }
    if (*n == 0) break;
    moved += *n;
  }
  const double mig_s = absl::ToDoubleSeconds(absl::Now() - m0);
  auto warm = (*store)->warm_stats();
  std::printf(
      "migration hot->warm: %zu requests, %.0f spans/s (%.2f cores), %llu blocks, "
      "%.1f MB: %.1f B/span, %.1fx smaller than OTLP protobuf\n",
      moved, w.spans / mig_s, (CpuSeconds() - mcpu0) / mig_s,
      static_cast<unsigned long long>(warm.blocks), warm.bytes / 1e6,
      static_cast<double>(warm.bytes) / w.spans,
      static_cast<double>(w.bytes) / static_cast<double>(warm.bytes));

  // 5. Warm lookups (page cache warm: one pass first).
  TimeLookups(**store, w, 200, &found);
  auto warm_get = TimeLookups(**store, w, queries, &found);
  all_found = all_found && found;
  std::printf("warm trace by id: p50 %.3f ms, p99 %.3f ms (all found: %s)\n",
              Percentile(warm_get, 0.5), Percentile(warm_get, 0.99), found ? "yes" : "NO");
  auto warm_search = TimeSearches(**store, w, queries / 10);
  std::printf("warm attribute search, limit 20: p50 %.2f ms, p95 %.2f ms\n",
              Percentile(warm_search, 0.5), Percentile(warm_search, 0.95));
  // 6. Recompaction into cold (local path, zstd 19) and lookups there.
  store->reset();
  o.cold.enabled = true;
  o.cold.after = absl::Milliseconds(1);
  store = TieredStore::Open(o);
  absl::Time c0 = absl::Now();
  if (auto n = (*store)->RunLifecycle(/*flush=*/true); !n.ok()) {
    std::fprintf(stderr, "lifecycle: %s\n", n.status().ToString().c_str());
    return 1;
  }
  auto cold = (*store)->cold_stats();
  std::printf(
      "recompaction warm->cold: %.1f s, %llu blocks, %.1f MB: %.1f B/span, %.1fx "
      "smaller than OTLP protobuf\n",
      absl::ToDoubleSeconds(absl::Now() - c0), static_cast<unsigned long long>(cold.blocks),
      cold.bytes / 1e6, static_cast<double>(cold.bytes) / w.spans,
      static_cast<double>(w.bytes) / static_cast<double>(cold.bytes));
  TimeLookups(**store, w, 200, &found);
  auto cold_get = TimeLookups(**store, w, queries, &found);
  all_found = all_found && found;
  std::printf("cold trace by id (local path): p50 %.3f ms, p99 %.3f ms (all found: %s)\n",
              Percentile(cold_get, 0.5), Percentile(cold_get, 0.99), found ? "yes" : "NO");
  store->reset();
  std::filesystem::remove_all(dir);

  // 7. Realistic logs: size in warm and cold (columnar log blocks) against protobuf and
  // zstd -19 of the same protobuf stream.
  {
    std::mt19937_64 rng(4);
    std::string all;
    TieredStoreOptions lo;
    lo.directory = dir + "-logs";
    std::filesystem::remove_all(lo.directory);
    lo.hot.max_age = absl::Milliseconds(1);
    lo.hot.max_size = uint64_t{8} << 30;
    lo.warm.block_window = absl::Hours(24);
    lo.cold.enabled = true;
    lo.cold.after = absl::Hours(24);
    lo.lifecycle_interval = absl::Hours(24);
    auto logs_store = TieredStore::Open(lo);
    if (!logs_store.ok()) return 1;
    const size_t records = std::max<size_t>(10000, spans / 10);
    // One stream in time: a batch of 1,000 records spans about a second (1 ms apart).
    const absl::Time logs_start = absl::Now() - absl::Seconds(records / 1000);
    for (size_t done = 0; done < records; done += 1000) {
      auto req =
          otlpd::bench::MakeRealisticLogs(rng, 1000, logs_start + absl::Seconds(done / 1000));
      std::string bytes = req.SerializeAsString();
      all += bytes;
      absl::Notification appended;
      (*logs_store)->Append(Signal::kLogs, absl::Cord(bytes), [&](absl::Status s) {
        if (!s.ok()) failed++;
        appended.Notify();
      });
      appended.WaitForNotification();
    }
    absl::SleepFor(absl::Milliseconds(5));
    // Runs lifecycle passes until nothing moves; returns the seconds taken.
    auto drain = [&] {
      const absl::Time start = absl::Now();
      while (true) {
        auto n = (*logs_store)->RunLifecycle(/*flush=*/true);
        if (!n.ok() || *n == 0) break;
      }
      return absl::ToDoubleSeconds(absl::Now() - start);
    };
    const double migrate_s = drain();
    auto lw = (*logs_store)->warm_stats();
    logs_store->reset();
    lo.cold.after = absl::Milliseconds(1);
    logs_store = TieredStore::Open(lo);
    if (!logs_store.ok()) return 1;
    const double cold_s = drain();
    auto lc = (*logs_store)->cold_stats();
    std::string z(ZSTD_compressBound(all.size()), '\0');
    size_t zn = ZSTD_compress(z.data(), z.size(), all.data(), all.size(), 19);
    const double proto = static_cast<double>(all.size());
    std::printf(
        "logs: %zu realistic records, %.0f B/record of OTLP protobuf (zstd -19 of it: %.1fx)\n"
        "  warm %.1f B/record, %.1fx smaller than protobuf; hot->warm %.0f records/s\n"
        "  cold %.1f B/record, %.1fx smaller than protobuf; warm->cold %.0f records/s "
        "(%llu/%llu records in warm/cold)\n",
        records, proto / records, proto / static_cast<double>(zn),
        static_cast<double>(lw.bytes) / records, proto / static_cast<double>(lw.bytes),
        records / migrate_s, static_cast<double>(lc.bytes) / records,
        proto / static_cast<double>(lc.bytes), records / cold_s,
        static_cast<unsigned long long>(lw.log_records),
        static_cast<unsigned long long>(lc.log_records));
    if (lw.log_records != records || lc.log_records != records) failed++;
    logs_store->reset();
    std::filesystem::remove_all(lo.directory);
  }
  // A run where something was refused or not found is a failed run (CI runs a short one).
  const bool ok = failed.load() == 0 && all_found && moved > 0;
  if (!ok) std::fprintf(stderr, "storage_bench: FAILED (refused appends or missing traces)\n");
  return ok ? 0 : 1;
}
