// The daemon's exporters retry against a real upstream that fails first: everything is
// delivered, nothing twice, Retry-After is honoured, permanent errors are not retried.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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

constexpr char kForwarder[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
exporters:
EXPORTER
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [EXPORTER_ID]
    logs:
      receivers: [otlp]
      exporters: [EXPORTER_ID]
)";

std::string ForwarderConfig(const std::string& exporter_yaml, const std::string& id) {
  return absl::StrReplaceAll(kForwarder, {{"EXPORTER\n", exporter_yaml}, {"EXPORTER_ID", id}});
}

constexpr char kOtlpHttpExporter[] = R"(  otlphttp:
    endpoint: http://127.0.0.1:{{UPSTREAM_PORT}}
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 60s
)";

constexpr char kOtlpGrpcExporter[] = R"(  otlp:
    endpoint: 127.0.0.1:{{UPSTREAM_PORT}}
    tls:
      insecure: true
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 60s
)";

// Sends `n` distinct trace requests (3 spans each) to the daemon over gRPC; all must be OK.
std::vector<TracesRequest> SendTraces(int grpc_port, int n, uint64_t seed_base,
                                      DaemonProcess& daemon) {
  OtlpGrpcClient client(grpc_port);
  std::vector<TracesRequest> sent;
  for (int i = 0; i < n; ++i) {
    SampleOptions options;
    options.seed = seed_base + i;
    options.items_per_scope = 3;
    sent.push_back(MakeTraces(options));
    grpc::Status s = client.Export(sent.back());
    EXPECT_TRUE(s.ok()) << i << ": " << s.error_code() << " " << s.error_message() << "\n"
                        << daemon.Stderr();
  }
  return sent;
}

// Every sent span was accepted upstream exactly once.
void ExpectDeliveredOnce(const std::vector<TracesRequest>& sent,
                         const std::vector<UpstreamRequest>& received) {
  std::vector<TracesRequest> accepted = DecodeTraces(received, /*only_accepted=*/true);
  int duplicates = -1;
  std::set<std::string> got_ids = TraceIds(accepted, &duplicates);
  std::set<std::string> sent_ids = TraceIds(sent);
  EXPECT_EQ(duplicates, 0) << "spans accepted upstream more than once";
  EXPECT_EQ(got_ids, sent_ids);
  EXPECT_EQ(TotalItems(accepted), TotalItems(sent));
  // Retries resend the same request unchanged.
  for (const auto& r : received) EXPECT_TRUE(r.decoded) << "upstream got an undecodable body";
}

TEST(RetryTest, OtlpHttpRetriesOn503And429WithRetryAfter) {
  constexpr int kFailures = 4;
  HttpUpstream upstream([](int index, const UpstreamRequest&) {
    HttpUpstream::Answer a;
    if (index < kFailures) {
      a.status = index % 2 == 0 ? 503 : 429;
      a.retry_after_seconds = 1;
    }
    return a;
  });
  auto vars = PortVars();
  vars["UPSTREAM_PORT"] = absl::StrCat(upstream.port());
  DaemonProcess daemon("retry-http");
  ASSERT_TRUE(daemon.StartWithConfig(ForwarderConfig(kOtlpHttpExporter, "otlphttp"), vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();

  constexpr int kRequests = 10;
  std::vector<TracesRequest> sent = SendTraces(PortOf(vars, "GRPC_PORT"), kRequests, 9000, daemon);
  EXPECT_TRUE(WaitUntil([&] { return upstream.accepted_count() >= kRequests; }, absl::Seconds(40)))
      << upstream.accepted_count() << " accepted\n"
      << daemon.Stderr();
  absl::SleepFor(absl::Seconds(1));  // a duplicate retry would show up now
  std::vector<UpstreamRequest> received = upstream.requests();
  EXPECT_EQ(received.size(), size_t{kRequests + kFailures});
  ExpectDeliveredOnce(sent, received);

  // Each refused request came again, and not before its Retry-After of 1s.
  for (int i = 0; i < kFailures && i < static_cast<int>(received.size()); ++i) {
    bool retried = false;
    for (size_t j = i + 1; j < received.size(); ++j) {
      if (received[j].payload != received[i].payload) continue;
      retried = true;
      EXPECT_GE(received[j].time - received[i].time, absl::Milliseconds(900))
          << "retry of request " << i << " ignored Retry-After";
      break;
    }
    EXPECT_TRUE(retried) << "refused request " << i << " was never retried";
  }
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

TEST(RetryTest, OtlpHttpDoesNotRetryPermanentErrors) {
  HttpUpstream upstream([](int, const UpstreamRequest&) {
    HttpUpstream::Answer a;
    a.status = 400;
    return a;
  });
  auto vars = PortVars();
  vars["UPSTREAM_PORT"] = absl::StrCat(upstream.port());
  DaemonProcess daemon("retry-http-permanent");
  ASSERT_TRUE(daemon.StartWithConfig(ForwarderConfig(kOtlpHttpExporter, "otlphttp"), vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();

  constexpr int kRequests = 3;
  std::vector<TracesRequest> sent = SendTraces(PortOf(vars, "GRPC_PORT"), kRequests, 9100, daemon);
  EXPECT_TRUE(
      WaitUntil([&] { return upstream.requests().size() >= kRequests; }, absl::Seconds(20)));
  absl::SleepFor(absl::Seconds(2));  // retries (100ms initial interval) would have come by now
  EXPECT_EQ(upstream.requests().size(), size_t{kRequests}) << "a 400 answer was retried";

  // The failure is counted in the exporter's self-metrics.
  const std::string url = LocalUrl(PortOf(vars, "METRICS_PORT"), "/metrics");
  std::optional<double> failed;
  WaitUntil(
      [&] {
        std::string text = HttpGet(url).body;
        failed = PromValue(text, "otelcol_exporter_send_failed_spans", {{"exporter", "otlphttp"}});
        if (!failed) {
          failed = PromValue(text, "otelcol_exporter_send_failed_spans_total",
                             {{"exporter", "otlphttp"}});
        }
        return failed.has_value() && *failed >= TotalItems(sent);
      },
      absl::Seconds(5));
  ASSERT_TRUE(failed.has_value()) << HttpGet(url).body;
  EXPECT_EQ(*failed, static_cast<double>(TotalItems(sent)));
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

TEST(RetryTest, OtlpGrpcRetriesOnUnavailable) {
  constexpr int kFailures = 3;
  GrpcUpstream upstream([](int index, const UpstreamRequest&) {
    return index < kFailures ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "warming up")
                             : grpc::Status::OK;
  });
  auto vars = PortVars();
  vars["UPSTREAM_PORT"] = absl::StrCat(upstream.port());
  DaemonProcess daemon("retry-grpc");
  ASSERT_TRUE(daemon.StartWithConfig(ForwarderConfig(kOtlpGrpcExporter, "otlp"), vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();

  constexpr int kRequests = 10;
  std::vector<TracesRequest> sent = SendTraces(PortOf(vars, "GRPC_PORT"), kRequests, 9200, daemon);
  EXPECT_TRUE(WaitUntil([&] { return upstream.accepted_count() >= kRequests; }, absl::Seconds(30)))
      << upstream.accepted_count() << " accepted\n"
      << daemon.Stderr();
  absl::SleepFor(absl::Seconds(1));
  std::vector<UpstreamRequest> received = upstream.requests();
  EXPECT_EQ(received.size(), size_t{kRequests + kFailures});
  ExpectDeliveredOnce(sent, received);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

TEST(RetryTest, OtlpGrpcDoesNotRetryPermanentErrors) {
  GrpcUpstream upstream([](int, const UpstreamRequest&) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no thanks");
  });
  auto vars = PortVars();
  vars["UPSTREAM_PORT"] = absl::StrCat(upstream.port());
  DaemonProcess daemon("retry-grpc-permanent");
  ASSERT_TRUE(daemon.StartWithConfig(ForwarderConfig(kOtlpGrpcExporter, "otlp"), vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  constexpr int kRequests = 3;
  SendTraces(PortOf(vars, "GRPC_PORT"), kRequests, 9300, daemon);
  EXPECT_TRUE(
      WaitUntil([&] { return upstream.requests().size() >= kRequests; }, absl::Seconds(20)));
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(upstream.requests().size(), size_t{kRequests}) << "INVALID_ARGUMENT was retried";
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

// The upstream is down when data arrives and comes up later: the queued and retried data
// is delivered once it is reachable.
TEST(RetryTest, OtlpGrpcDeliversAfterUpstreamComesUp) {
  auto vars = PortVars({"UPSTREAM_PORT"});
  DaemonProcess daemon("retry-late-upstream");
  ASSERT_TRUE(daemon.StartWithConfig(ForwarderConfig(kOtlpGrpcExporter, "otlp"), vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  constexpr int kRequests = 5;
  std::vector<TracesRequest> sent = SendTraces(PortOf(vars, "GRPC_PORT"), kRequests, 9400, daemon);
  absl::SleepFor(absl::Seconds(1));

  // Bring up the upstream on the port the daemon is configured with.
  const int port = PortOf(vars, "UPSTREAM_PORT");
  std::vector<UpstreamRequest> received;
  {
    GrpcUpstream upstream(nullptr, port);
    EXPECT_TRUE(
        WaitUntil([&] { return upstream.accepted_count() >= kRequests; }, absl::Seconds(30)))
        << daemon.Stderr();
    absl::SleepFor(absl::Milliseconds(500));
    received = upstream.requests();
  }
  ExpectDeliveredOnce(sent, received);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
}

}  // namespace
}  // namespace otlpd::testing
