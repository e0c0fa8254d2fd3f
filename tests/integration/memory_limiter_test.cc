// memory_limiter under a load larger than its limit: clients get OK or a retryable refusal,
// the daemon stays alive and its peak RSS stays near the limit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"
#include "testing/prometheus.h"
#include "testing/wait.h"

namespace otlpd::testing {
namespace {

#if defined(__SANITIZE_ADDRESS__)
// ASan's quarantine keeps freed memory resident (made small below), and refused requests
// cost more there, so the headroom over the idle daemon is larger.
constexpr bool kAsan = true;
constexpr int kHeadroomMib = 80;
constexpr int kSpikeMib = 40;
#else
constexpr bool kAsan = false;
constexpr int kHeadroomMib = 35;
constexpr int kSpikeMib = 10;
#endif
// The limit is the idle daemon's RSS plus kHeadroomMib, measured per run: the idle RSS
// includes the binary's resident text, which grows with the code (an ASan build's idle daemon
// went from ~80 to ~160 MiB), and a fixed limit under it refuses everything.
// Peak VmHWM measured 62-71 MiB in Release (limit 60): refused requests are decoded before
// the limiter sees them, and the exporter's consumers serialize queued data for their retries;
// neither is data the limiter lets in. The margin leaves room for a slow, loaded machine.
constexpr int kMarginMib = 25;

// Data piles up in the exporter queue because the upstream is down, so memory grows until
// the limiter refuses.
constexpr char kConfig[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
processors:
  memory_limiter:
    check_interval: 100ms
    limit_mib: LIMIT
    spike_limit_mib: SPIKE
exporters:
  otlp:
    endpoint: 127.0.0.1:{{DOWN_PORT}}
    tls:
      insecure: true
    sending_queue:
      enabled: true
      queue_size: 1000000
    retry_on_failure:
      enabled: true
      initial_interval: 1s
      max_interval: 5s
      max_elapsed_time: 300s
extensions:
  health_check:
    endpoint: 127.0.0.1:{{HEALTH_PORT}}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [otlp]
)";

struct Tally {
  std::mutex mu;
  std::map<std::string, int> outcomes;
  std::vector<std::string> bad;  // answers that are neither OK nor retryable
  void Add(const std::string& outcome, bool acceptable) {
    std::lock_guard<std::mutex> lock(mu);
    outcomes[outcome]++;
    if (!acceptable && bad.size() < 10) bad.push_back(outcome);
  }
};

std::string Config(int limit_mib, int spike_mib) {
  return absl::StrReplaceAll(
      kConfig, {{"LIMIT", absl::StrCat(limit_mib)}, {"SPIKE", absl::StrCat(spike_mib)}});
}

// The idle RSS of this config's daemon, with a limit it cannot reach; 0 if it did not start.
int IdleRssMib(const std::map<std::string, std::string>& vars, const EnvVars& env) {
  DaemonProcess probe("memlimit-idle");
  if (!probe.StartWithConfig(Config(1 << 20, 1), vars, env).ok() ||
      !probe.WaitForPort(PortOf(vars, "GRPC_PORT")) ||
      !probe.WaitForPort(PortOf(vars, "HTTP_PORT"))) {
    return 0;
  }
  absl::SleepFor(absl::Milliseconds(500));  // let start-up's allocations settle
  const long rss_kib = probe.VmRssKib();
  if (probe.Stop(SIGTERM, absl::Seconds(30)) != 0) return 0;
  return static_cast<int>((rss_kib + 1023) / 1024);
}

TEST(MemoryLimiterTest, RefusesRetryablyAndBoundsMemory) {
  auto vars = PortVars({"DOWN_PORT"});
  EnvVars env;
  if (kAsan) {
    const char* options = std::getenv("ASAN_OPTIONS");
    env.push_back(
        {"ASAN_OPTIONS", absl::StrCat(options != nullptr ? options : "",
                                      options != nullptr ? ":" : "", "quarantine_size_mb=16")});
  }
  const int idle_mib = IdleRssMib(vars, env);
  ASSERT_GT(idle_mib, 0);
  const int limit_mib = idle_mib + kHeadroomMib;

  DaemonProcess daemon("memlimit");
  ASSERT_TRUE(daemon.StartWithConfig(Config(limit_mib, kSpikeMib), vars, env).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();
  const long baseline_kib = daemon.VmRssKib();

  // ~1 MiB requests: 512 spans with 2 KiB of attribute each.
  SampleOptions big;
  big.items_per_scope = 512;
  big.padding_bytes = 2048;
  big.rich = false;

  Tally tally;
  std::atomic<long> peak_hwm_kib{0};
  std::atomic<bool> stop{false};
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const bool use_grpc = t % 2 == 0;
      OtlpGrpcClient grpc_client(PortOf(vars, "GRPC_PORT"));
      HttpClient http_client;
      // A few distinct requests per thread, built once: the load is on the daemon.
      std::vector<TracesRequest> requests;
      std::vector<std::string> bodies;
      for (int k = 0; k < 4; ++k) {
        SampleOptions options = big;
        options.seed = static_cast<uint64_t>(t) * 1000 + k;
        requests.push_back(MakeTraces(options));
        bodies.push_back(requests.back().SerializeAsString());
      }
      for (int i = 0; absl::Now() < deadline && !stop.load() && i < 100000; ++i) {
        const TracesRequest& request = requests[i % requests.size()];
        if (use_grpc) {
          grpc::Status s = grpc_client.Export(request, nullptr, {.timeout = absl::Seconds(10)});
          const auto code = s.error_code();
          const bool retryable =
              code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::RESOURCE_EXHAUSTED;
          tally.Add(absl::StrCat("grpc:", code), s.ok() || retryable);
          if (retryable) absl::SleepFor(absl::Milliseconds(20));
        } else {
          HttpResult r = http_client.Post(
              LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces"), bodies[i % bodies.size()],
              {"Content-Type: application/x-protobuf"}, absl::Seconds(10));
          const bool retryable =
              (r.status == 429 || r.status == 503) && r.Header("retry-after") != nullptr;
          tally.Add(absl::StrCat("http:", r.status,
                                 r.status == 429 || r.status == 503
                                     ? (retryable ? "+retry-after" : "-no-retry-after")
                                     : ""),
                    r.status == 200 || retryable);
          if (retryable) absl::SleepFor(absl::Milliseconds(20));
        }
      }
    });
  }
  // Watch the peak while the load runs.
  while (absl::Now() < deadline) {
    long hwm = daemon.VmHwmKib();
    if (hwm > peak_hwm_kib.load()) peak_hwm_kib = hwm;
    if (!daemon.Running()) {
      stop = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  for (auto& th : threads) th.join();
  long hwm = daemon.VmHwmKib();
  if (hwm > peak_hwm_kib.load()) peak_hwm_kib = hwm;

  std::string summary;
  for (const auto& [outcome, n] : tally.outcomes) absl::StrAppend(&summary, outcome, "=", n, " ");
  std::printf(
      "memory_limiter load: idle %d MiB, baseline RSS %ld KiB, peak VmHWM %ld KiB (limit %d MiB "
      "+ margin %d MiB); answers: %s\n",
      idle_mib, baseline_kib, peak_hwm_kib.load(), limit_mib, kMarginMib, summary.c_str());
  RecordProperty("peak_vmhwm_kib", static_cast<int>(peak_hwm_kib.load()));
  RecordProperty("answers", summary);

  ASSERT_TRUE(daemon.Running()) << "daemon died under load\n" << daemon.Stderr();
  EXPECT_TRUE(tally.bad.empty()) << "non-retryable answers: " << ::testing::PrintToString(tally.bad)
                                 << " (" << summary << ")";
  int refused = 0, accepted = 0;
  for (const auto& [outcome, n] : tally.outcomes) {
    if (outcome == "grpc:0" || outcome == "http:200") {
      accepted += n;
    } else {
      refused += n;
    }
  }
  EXPECT_GT(accepted, 0) << summary;
  EXPECT_GT(refused, 0) << "the load never reached the limit: " << summary;
  EXPECT_LE(peak_hwm_kib.load(), (limit_mib + kMarginMib) * 1024L)
      << "peak RSS over limit_mib + " << kMarginMib << " MiB";

  // Still healthy, and it tells why it refused.
  EXPECT_EQ(HttpGet(LocalUrl(PortOf(vars, "HEALTH_PORT"), "/")).status, 200);
  std::string text = ScrapeMetrics(PortOf(vars, "METRICS_PORT"));
  double refused_spans =
      SelfMetric(text, "otelcol_processor_refused_spans", {{"processor", "memory_limiter"}})
          .value_or(-1);
  double receiver_refused =
      SelfMetric(text, "otelcol_receiver_refused_spans", {{"receiver", "otlp"}}).value_or(-1);
  std::printf("otelcol_processor_refused_spans=%g otelcol_receiver_refused_spans=%g\n",
              refused_spans, receiver_refused);
  EXPECT_GT(std::max(refused_spans, receiver_refused), 0) << text;
  EXPECT_EQ(daemon.Stop(SIGTERM, absl::Seconds(30)), 0) << daemon.Stderr();
}

}  // namespace
}  // namespace otlpd::testing
