// SIGTERM answers everyone: clients held in the pipeline get their OK once shutdown has
// flushed it, clients that keep sending during shutdown get 503 / UNAVAILABLE (never a reset,
// an empty reply or CANCELLED), and at the shutdown deadline whatever is still held is
// answered 503 / UNAVAILABLE before the daemon exits.
#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"
#include "testing/prometheus.h"
#include "testing/upstream.h"
#include "testing/wait.h"

namespace otlpd::testing {
namespace {

const std::vector<std::string> kProtobuf = {"Content-Type: application/x-protobuf"};

TracesRequest Spans(uint64_t seed, int count) {
  SampleOptions options;
  options.seed = seed;
  options.items_per_scope = count;
  options.rich = false;
  return MakeTraces(options);
}

// Runs `fn(i)` for i in [0, n) on threads; Join() (or the destructor) waits for them.
class Threads {
 public:
  void Run(int n, const std::function<void(int)>& fn) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([fn, i] { fn(i); });
  }
  void Join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  ~Threads() { Join(); }

 private:
  std::vector<std::thread> threads_;
};

// True once `pid` has exited (gone, or a zombie waiting to be reaped).
bool ProcessGone(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat;
  if (!std::getline(in, stat)) return true;
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  const char state = stat[paren + 2];
  return state == 'Z' || state == 'X';
}

// Busy threads that load every CPU while they live.
class CpuHog {
 public:
  explicit CpuHog(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        volatile uint64_t x = 0;
        while (!stop_.load(std::memory_order_relaxed)) x = x * 6364136223846793005ULL + 1;
      });
    }
  }
  ~CpuHog() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------------------------------
// a. Clients held by the pipeline (batch timeout and file flush_interval far beyond the
// test) all get OK when SIGTERM flushes it, and everything is written exactly once.

constexpr char kHeldConfig[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 4000
  batch:
    send_batch_size: 100000
    timeout: 60s
exporters:
  file:
    path: {{DIR}}/traces.jsonl
    flush_interval: 60s
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [file]
)";

void SigtermAnswersHeldClients(bool grpc) {
  DaemonProcess daemon(grpc ? "held-grpc" : "held-http");
  auto vars = PortVars();
  ASSERT_TRUE(daemon.StartWithConfig(kHeldConfig, vars).ok());
  for (const char* port : {"GRPC_PORT", "HTTP_PORT", "METRICS_PORT"}) {
    ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, port))) << port << "\n" << daemon.Stderr();
  }
  constexpr int kClients = 20;
  constexpr int kSpansEach = 50;
  std::vector<TracesRequest> sent;
  for (int i = 0; i < kClients; ++i) sent.push_back(Spans(7000 + i, kSpansEach));

  struct Answer {
    bool ok = false;
    std::string what = "no answer";
  };
  std::vector<Answer> answers(kClients);
  std::atomic<int> answered{0};
  Threads clients;
  // If an assertion returns early, the daemon goes first so that no client stays blocked.
  absl::Cleanup stop_first = [&] {
    daemon.Kill9();
    clients.Join();
  };
  clients.Run(kClients, [&](int i) {
    Answer& a = answers[i];
    if (grpc) {
      OtlpGrpcClient client(PortOf(vars, "GRPC_PORT"));  // its own channel and connection
      grpc::Status s = client.Export(sent[i], nullptr, {.timeout = absl::Seconds(60)});
      a.ok = s.ok();
      a.what = absl::StrCat("gRPC ", s.error_code(), " ", s.error_message());
    } else {
      HttpClient client;  // its own connection
      HttpResult r = client.Post(LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces"),
                                 sent[i].SerializeAsString(), kProtobuf, absl::Seconds(60));
      a.ok = r.status == 200;
      a.what = absl::StrCat("HTTP ", r.status, " ", r.error, " ", r.body);
    }
    answered.fetch_add(1);
  });

  // Every span is inside the pipeline (memory_limiter, in front of batch, counts it)...
  std::string text;
  EXPECT_TRUE(WaitUntil(
      [&] {
        text = ScrapeMetrics(PortOf(vars, "METRICS_PORT"));
        return SelfMetric(text, "otelcol_processor_accepted_spans").value_or(0) ==
               kClients * kSpansEach;
      },
      absl::Seconds(15)))
      << text;
  // ...and held there: nobody has an answer yet.
  EXPECT_EQ(answered.load(), 0) << "the pipeline did not hold the callers";

  const absl::Time t0 = absl::Now();
  const int exit_status = daemon.Stop(SIGTERM, absl::Seconds(30));
  const absl::Duration took = absl::Now() - t0;
  EXPECT_EQ(exit_status, 0) << daemon.Stderr();
  // Nothing to wait for once everything is flushed: far below batch timeout and
  // flush_interval (60 s) and below the default --shutdown-timeout (10 s) as well.
  EXPECT_LT(took, absl::Seconds(3)) << daemon.Stderr();
  std::move(stop_first).Cancel();
  clients.Join();

  for (int i = 0; i < kClients; ++i) EXPECT_TRUE(answers[i].ok) << i << ": " << answers[i].what;
  auto written = ReadTracesFile(daemon.File("traces.jsonl"));
  ASSERT_TRUE(written.ok()) << written.status();
  int duplicates = -1;
  EXPECT_EQ(TraceIds(*written, &duplicates), TraceIds(sent));
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(TotalItems(*written), size_t{kClients * kSpansEach});
}

TEST(ShutdownTest, SigtermAnswersHeldHttpClients) { SigtermAnswersHeldClients(/*grpc=*/false); }

TEST(ShutdownTest, SigtermAnswersHeldGrpcClients) { SigtermAnswersHeldClients(/*grpc=*/true); }

// ---------------------------------------------------------------------------------------
// b. Clients that keep sending while the daemon shuts down.

// What one request got.
struct Outcome {
  enum Kind {
    kOk,          // 200 / OK: the data must be at the upstream
    kRetryLater,  // 503 + Retry-After / UNAVAILABLE + RetryInfo
    kRefused,     // no connection (ECONNREFUSED / gRPC "failed to connect")
    kBad,         // anything else: empty reply, reset, CANCELLED, 500, ...
  };
  Kind kind = kBad;
  bool grpc = false;
  uint64_t seed = 0;
  absl::Time done;
  bool daemon_gone = false;  // the daemon had exited when the answer came
  std::string detail;
};

Outcome::Kind ClassifyHttp(const HttpResult& r, std::string* detail) {
  *detail = absl::StrCat("HTTP ", r.status, " [", r.error, "] ", r.body.substr(0, 200),
                         r.new_connections > 0 ? " (new connection)" : " (kept-alive connection)");
  if (r.status == 200) return Outcome::kOk;
  if (r.status == 503) {
    if (r.Header("retry-after") == nullptr) {
      absl::StrAppend(detail, " (no Retry-After)");
      return Outcome::kBad;
    }
    return Outcome::kRetryLater;
  }
  if (r.status == 0 && r.error == curl_easy_strerror(CURLE_COULDNT_CONNECT)) {
    return Outcome::kRefused;
  }
  return Outcome::kBad;
}

Outcome::Kind ClassifyGrpc(const grpc::Status& s, std::string* detail) {
  *detail = absl::StrCat("gRPC ", s.error_code(), " ", s.error_message());
  if (s.ok()) return Outcome::kOk;
  if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return Outcome::kBad;
  if (GrpcRetryDelay(s).has_value()) return Outcome::kRetryLater;
  // Without RetryInfo, UNAVAILABLE is gRPC's own: acceptable only if the connection could
  // not be made, not if a call on an established one broke off.
  const std::string message = absl::AsciiStrToLower(s.error_message());
  if (absl::StrContains(message, "failed to connect") ||
      absl::StrContains(message, "connection refused")) {
    return Outcome::kRefused;
  }
  return Outcome::kBad;
}

// HTTP clients send again at once whatever the answer. gRPC clients wait as long as
// RetryInfo says, as the SDKs do: once gRPC's own server shutdown has begun, gRPC cancels
// every call that still reaches it (CANCELLED for a client that had not seen the GOAWAY
// yet), so the daemon stops its gRPC server only once no call has come for a while (at
// most 1 s), which a client ignoring RetryInfo never gives it. What this catches is the
// realistic race: a client whose request was just answered OK sends the next one at once.
//
// The daemon forwards to an upstream that takes 150-450 ms per request (varied, so that
// the clients do not move in step and some are free to send during the drain), with the
// exporter's queue disabled, so that requests are still in the pipeline when SIGTERM comes
// and shutdown has to wait for them.
constexpr char kDrainConfig[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
exporters:
  otlp:
    endpoint: 127.0.0.1:{{UP_PORT}}
    tls:
      insecure: true
    timeout: 10s
    sending_queue:
      enabled: false
      num_consumers: 32
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp]
)";
absl::Duration UpstreamDelay(int index) { return absl::Milliseconds(150 + (index * 97) % 300); }

// The receivers close their listeners only after the pipelines have drained and every
// answer is written, and then only after a quiet period of at least 100 ms (gRPC's, which
// comes first). So a refused connection is correct once the last OK has been answered; one
// seen before some client's OK means a listener closed while data was still in flight. (Not
// a time since the exit: teardown and ASan's leak check at exit take a variable time on a
// loaded machine.)
struct RoundStats {
  int ok = 0, retry_later = 0, refused = 0;
};

void LoopingClientsRound(int round, RoundStats* stats) {
  SCOPED_TRACE(absl::StrCat("round ", round));
  GrpcUpstream upstream([](int index, const UpstreamRequest&) {
    absl::SleepFor(UpstreamDelay(index));
    return grpc::Status::OK;
  });
  DaemonProcess daemon(absl::StrCat("drain-", round));
  auto vars = PortVars();
  vars["UP_PORT"] = absl::StrCat(upstream.port());
  ASSERT_TRUE(daemon.StartWithConfig(kDrainConfig, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();
  const pid_t pid = daemon.pid();

  constexpr int kHttpClients = 4;
  constexpr int kGrpcClients = 4;
  constexpr int kClients = kHttpClients + kGrpcClients;
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<Outcome> outcomes;
  std::vector<int> ok_count(kClients, 0);
  std::vector<absl::Time> last_done(kClients, absl::InfinitePast());

  Threads clients;
  absl::Cleanup stop_clients = [&] {
    stop.store(true);
    daemon.Kill9();
    clients.Join();
  };
  clients.Run(kClients, [&](int c) {
    const bool grpc = c >= kHttpClients;
    const int http_port = PortOf(vars, "HTTP_PORT");
    HttpClient http;  // one connection, reused (keep-alive) until the daemon closes it
    OtlpGrpcClient grpc_client(PortOf(vars, "GRPC_PORT"));
    for (uint64_t i = 0; !stop.load(); ++i) {
      Outcome o;
      o.grpc = grpc;
      o.seed = (static_cast<uint64_t>(round) << 32) | (static_cast<uint64_t>(c) << 20) | i;
      TracesRequest request = Spans(o.seed, 5);
      absl::Duration pause = absl::ZeroDuration();
      if (grpc) {
        grpc::Status s = grpc_client.Export(request, nullptr, {.timeout = absl::Seconds(15)});
        o.kind = ClassifyGrpc(s, &o.detail);
        // As the SDKs do, wait as long as RetryInfo says (see the note on gRPC above).
        if (o.kind == Outcome::kRetryLater) {
          pause = std::min(GrpcRetryDelay(s).value_or(absl::ZeroDuration()), absl::Seconds(1));
        }
      } else {
        HttpResult r = http.Post(LocalUrl(http_port, "/v1/traces"), request.SerializeAsString(),
                                 kProtobuf, absl::Seconds(15));
        o.kind = ClassifyHttp(r, &o.detail);
        // Retry-After ignored: keep the pressure on.
        if (o.kind == Outcome::kRetryLater) pause = absl::Milliseconds(2);
      }
      o.done = absl::Now();
      o.daemon_gone = ProcessGone(pid);
      const Outcome::Kind kind = o.kind;
      {
        absl::MutexLock lock(&mu);
        if (kind == Outcome::kOk) ++ok_count[c];
        last_done[c] = o.done;
        outcomes.push_back(std::move(o));
      }
      if (kind == Outcome::kRefused) pause = absl::Milliseconds(20);  // no need to spin
      if (kind == Outcome::kBad) pause = absl::Milliseconds(2);
      absl::SleepFor(pause);
    }
  });

  // Everyone is sending successfully before the signal.
  const bool warm = WaitUntil(
      [&] {
        absl::MutexLock lock(&mu);
        return std::all_of(ok_count.begin(), ok_count.end(), [](int n) { return n >= 2; });
      },
      absl::Seconds(20));
  ASSERT_TRUE(warm) << daemon.Stderr();

  const absl::Time sigterm_at = absl::Now();
  const int exit_status = daemon.Stop(SIGTERM, absl::Seconds(20));
  const absl::Time exit_seen = absl::Now();
  EXPECT_EQ(exit_status, 0) << daemon.Stderr();
  EXPECT_LT(exit_seen - sigterm_at, absl::Seconds(5)) << daemon.Stderr();
  // Let every client try once more against the exited daemon.
  EXPECT_TRUE(WaitUntil(
      [&] {
        absl::MutexLock lock(&mu);
        return std::all_of(last_done.begin(), last_done.end(),
                           [&](absl::Time t) { return t > exit_seen; });
      },
      absl::Seconds(20)));
  std::move(stop_clients).Cancel();
  stop.store(true);
  clients.Join();

  std::set<std::string> at_upstream = TraceIds(DecodeTraces(upstream.requests(), true));
  absl::Time last_ok = absl::InfinitePast();
  for (const Outcome& o : outcomes) {
    if (o.kind == Outcome::kOk) last_ok = std::max(last_ok, o.done);
  }
  int checked_ok = 0;
  for (const Outcome& o : outcomes) {
    const std::string where = absl::StrCat(
        o.grpc ? "gRPC" : "HTTP", " client, request ", o.seed & 0xfffff, ", ", o.detail, ", ",
        absl::FormatDuration(o.done - sigterm_at), " after SIGTERM (exit seen after ",
        absl::FormatDuration(exit_seen - sigterm_at), ")");
    switch (o.kind) {
      case Outcome::kOk: {
        ++stats->ok;
        for (const std::string& id : TraceIds({Spans(o.seed, 5)})) {
          if (at_upstream.count(id) == 0) {
            ADD_FAILURE() << "acknowledged but not at the upstream: " << where;
            break;
          }
        }
        ++checked_ok;
        break;
      }
      case Outcome::kRetryLater:
        ++stats->retry_later;
        break;
      case Outcome::kRefused:
        ++stats->refused;
        if (!o.daemon_gone && o.done < last_ok) {
          ADD_FAILURE() << "connection refused before another client's OK (a listener closed "
                           "while the pipeline drained): "
                        << where << "; last OK " << absl::FormatDuration(last_ok - sigterm_at)
                        << " after SIGTERM";
        }
        break;
      case Outcome::kBad:
        ADD_FAILURE() << "not an acceptable answer: " << where;
        break;
    }
  }
  EXPECT_GT(checked_ok, 0);
}

void LoopingClients(int rounds, bool hog) {
  std::unique_ptr<CpuHog> load;
  if (hog) load = std::make_unique<CpuHog>(std::max(4u, 2 * std::thread::hardware_concurrency()));
  RoundStats stats;
  for (int round = 0; round < rounds; ++round) {
    LoopingClientsRound(round, &stats);
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The rounds did exercise the shutdown window: refusals during the drain (503 /
  // UNAVAILABLE) and refused connections after the exit.
  EXPECT_GT(stats.retry_later, 0);
  EXPECT_GT(stats.refused, 0);
  std::printf("%d rounds%s: %d OK, %d retry-later, %d refused after exit\n", rounds,
              hog ? " under CPU load" : "", stats.ok, stats.retry_later, stats.refused);
}

TEST(ShutdownTest, LoopingClientsGetOkOrRetryLaterNeverAReset) {
  LoopingClients(/*rounds=*/10, /*hog=*/false);
}

TEST(ShutdownTest, LoopingClientsUnderCpuLoad) { LoopingClients(/*rounds=*/2, /*hog=*/true); }

// ---------------------------------------------------------------------------------------
// c. The shutdown deadline: an upstream that never answers holds every request; at
// --shutdown-timeout they are all answered 503 / UNAVAILABLE and the daemon exits.

TEST(ShutdownTest, DeadlineAnswersHeldClientsRetryLater) {
  absl::Notification release;  // the upstream answers nothing before this
  GrpcUpstream upstream([&](int, const UpstreamRequest&) {
    release.WaitForNotificationWithTimeout(absl::Seconds(60));
    return grpc::Status::OK;
  });
  absl::Cleanup unblock_upstream = [&] {
    if (!release.HasBeenNotified()) release.Notify();
  };
  DaemonProcess daemon("deadline");
  auto vars = PortVars();
  vars["UP_PORT"] = absl::StrCat(upstream.port());
  std::string config = daemon.WriteConfig(kDrainConfig, vars);
  ASSERT_TRUE(daemon.Start({"--config", config, "--shutdown-timeout", "1s"}).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();

  constexpr int kHttpClients = 4;
  constexpr int kGrpcClients = 4;
  std::vector<Outcome> outcomes(kHttpClients + kGrpcClients);
  Threads clients;
  absl::Cleanup stop_first = [&] {
    daemon.Kill9();
    clients.Join();
  };
  clients.Run(kHttpClients + kGrpcClients, [&](int c) {
    Outcome& o = outcomes[c];
    o.grpc = c >= kHttpClients;
    TracesRequest request = Spans(9000 + c, 5);
    if (o.grpc) {
      OtlpGrpcClient client(PortOf(vars, "GRPC_PORT"));
      o.kind =
          ClassifyGrpc(client.Export(request, nullptr, {.timeout = absl::Seconds(30)}), &o.detail);
    } else {
      o.kind = ClassifyHttp(HttpPost(LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces"),
                                     request.SerializeAsString(), kProtobuf, absl::Seconds(30)),
                            &o.detail);
    }
  });
  // Every request is at the upstream, which holds it.
  ASSERT_TRUE(
      WaitUntil([&] { return upstream.requests().size() == size_t{kHttpClients + kGrpcClients}; },
                absl::Seconds(15)))
      << upstream.requests().size() << "\n"
      << daemon.Stderr();

  const absl::Time t0 = absl::Now();
  const int exit_status = daemon.Stop(SIGTERM, absl::Seconds(20));
  const absl::Duration took = absl::Now() - t0;
  EXPECT_EQ(exit_status, 0) << daemon.Stderr();
  EXPECT_LT(took, absl::Milliseconds(2500)) << daemon.Stderr();
  std::move(stop_first).Cancel();
  clients.Join();
  for (const Outcome& o : outcomes) {
    EXPECT_EQ(o.kind, Outcome::kRetryLater) << o.detail;
  }
}

}  // namespace
}  // namespace otlpd::testing
