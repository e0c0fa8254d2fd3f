// End to end with real daemons: an otlpd edge with the loadbalancing exporter (traceID,
// durable per-backend queues on file_storage) in front of three otlpd gateways, each
// writing what it receives to a file. Traces sent in pieces over many requests arrive whole
// at exactly one gateway; then, under load, one gateway is killed with SIGKILL (the edge
// ejects it and re-routes its queue) and a new one is started on its port (it re-joins
// the ring when its ejection ends): every span the edge acknowledged is delivered to some
// gateway. Duplicates are allowed (a send can succeed just before a failure is seen) and
// reported.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/otlp_data.h"
#include "testing/ports.h"
#include "testing/prometheus.h"
#include "testing/wait.h"

namespace otlpd {
namespace {

using testing::DaemonProcess;
using testing::HexId;
using testing::MakeTraceId;
using testing::WaitUntil;

constexpr char kGatewayConfig[] = R"yaml(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GW_PORT}}
exporters:
  file:
    path: {{DIR}}/traces.jsonl
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
)yaml";

constexpr char kEdgeConfig[] = R"yaml(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
extensions:
  file_storage/lb:
    directory: {{DIR}}/queues
    create_directory: true
exporters:
  loadbalancing:
    routing_key: traceID
    protocol:
      otlp:
        tls: {insecure: true}
        timeout: 1s
        retry_on_failure: {initial_interval: 50ms, max_interval: 200ms}
        sending_queue: {storage: file_storage/lb, num_consumers: 4}
    resolver:
      static:
        hostnames: [127.0.0.1:{{GW0}}, 127.0.0.1:{{GW1}}, 127.0.0.1:{{GW2}}]
    outlier_detection:
      consecutive_errors: 3
      base_ejection_time: 1s
      max_ejection_time: 2s
service:
  extensions: [file_storage/lb]
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [loadbalancing]
)yaml";

// Request `r` of a stream in which each trace has `spans` spans in each of `per_trace`
// consecutive requests: trace ids repeat across requests, span ids never do.
TracesRequest Request(uint64_t seed, int r, int traces, int spans, int per_trace) {
  TracesRequest req;
  auto* rs = req.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("lb-e2e");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("lb-e2e");
  for (int t = 0; t < traces; ++t) {
    for (int s = 0; s < spans; ++s) {
      auto* span = ss->add_spans();
      span->set_trace_id(MakeTraceId(seed, static_cast<uint64_t>((r / per_trace) * traces + t)));
      span->set_span_id(
          MakeTraceId(seed * 7919 + r, static_cast<uint64_t>(t * spans + s)).substr(0, 8));
      span->set_name("op");
      span->set_start_time_unix_nano(1);
      span->set_end_time_unix_nano(2);
    }
  }
  return req;
}

struct Gateway {
  std::unique_ptr<DaemonProcess> process;
  int index = 0;
};

// Every span in the gateways' files: (trace id + span id) -> how often; trace -> gateways.
struct Delivered {
  std::map<std::string, int> spans;
  std::map<std::string, std::set<int>> trace_gateways;
  bool ok = true;
};

Delivered Read(const std::vector<Gateway>& gateways) {
  Delivered d;
  for (const Gateway& g : gateways) {
    absl::StatusOr<std::vector<TracesRequest>> requests =
        testing::ReadTracesFile(g.process->File("traces.jsonl"));
    if (!requests.ok()) {
      d.ok = false;
      continue;
    }
    for (const TracesRequest& r : *requests)
      for (const auto& rs : r.resource_spans())
        for (const auto& ss : rs.scope_spans())
          for (const auto& span : ss.spans()) {
            ++d.spans[span.trace_id() + span.span_id()];
            d.trace_gateways[HexId(span.trace_id())].insert(g.index);
          }
  }
  return d;
}

std::vector<std::string> SpanKeys(const TracesRequest& r) {
  std::vector<std::string> keys;
  for (const auto& rs : r.resource_spans())
    for (const auto& ss : rs.scope_spans())
      for (const auto& span : ss.spans()) keys.push_back(span.trace_id() + span.span_id());
  return keys;
}

TEST(LoadBalancingEndToEndTest, TracesStayWholeAndAGatewayKilledUnderLoadLosesNothing) {
  std::map<std::string, std::string> gw_ports = testing::PortVars({"GW0", "GW1", "GW2"});
  auto start_gateway = [&](int index, const std::string& name) {
    Gateway g;
    g.index = index;
    g.process = std::make_unique<DaemonProcess>(name);
    std::map<std::string, std::string> vars = testing::PortVars();
    vars["GW_PORT"] = gw_ports["GW" + std::to_string(index)];
    EXPECT_TRUE(g.process->StartWithConfig(kGatewayConfig, vars).ok());
    EXPECT_TRUE(g.process->WaitForPort(std::stoi(vars["GW_PORT"]))) << g.process->Stderr();
    return g;
  };
  std::vector<Gateway> gateways;
  for (int i = 0; i < 3; ++i) gateways.push_back(start_gateway(i, absl::StrCat("gateway-", i)));

  DaemonProcess edge("lb-edge");
  std::map<std::string, std::string> vars = gw_ports;
  for (auto& [k, v] : testing::PortVars()) vars[k] = v;
  ASSERT_TRUE(edge.StartWithConfig(kEdgeConfig, vars).ok());
  const int edge_port = testing::PortOf(vars, "GRPC_PORT");
  ASSERT_TRUE(edge.WaitForPort(edge_port)) << edge.Stderr();
  testing::OtlpGrpcClient client(edge_port);

  // 1. 120 traces, each in 5-span pieces over 8 requests: each arrives whole at one gateway.
  size_t phase1 = 0;
  for (int r = 0; r < 8; ++r) {
    TracesRequest req = Request(1, r, 120, 5, 8);
    phase1 += CountItems(req);
    grpc::Status s = client.Export(req);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_TRUE(WaitUntil([&] { return Read(gateways).spans.size() == phase1; }, absl::Seconds(15)))
      << Read(gateways).spans.size() << " of " << phase1 << "\n"
      << edge.Stderr();
  {
    Delivered d = Read(gateways);
    ASSERT_EQ(d.trace_gateways.size(), 120u);
    std::map<int, int> per_gateway;
    for (const auto& [trace, gws] : d.trace_gateways) {
      EXPECT_EQ(gws.size(), 1u) << "trace " << trace << " reached several gateways";
      ++per_gateway[*gws.begin()];
    }
    EXPECT_EQ(per_gateway.size(), 3u);
    std::cout << "phase 1: " << phase1 << " spans of 120 traces; traces per gateway:";
    for (auto [g, n] : per_gateway) std::cout << " " << g << "=" << n;
    std::cout << std::endl;
  }

  // 2. Load; gateway 1 is killed, then a new gateway takes its port.
  absl::Mutex mu;
  std::set<std::string> acked;
  int refused = 0;
  std::atomic<bool> stop{false};
  std::thread load([&] {
    testing::OtlpGrpcClient c(edge_port);
    for (int r = 0; !stop.load(); ++r) {
      TracesRequest req = Request(2, r, 20, 5, 3);
      grpc::Status s = c.Export(req, nullptr, {.timeout = absl::Seconds(5)});
      absl::MutexLock lock(&mu);
      if (s.ok()) {
        for (std::string& k : SpanKeys(req)) acked.insert(std::move(k));
      } else {
        ++refused;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_EQ(gateways[1].process->Kill9(), 137);
  absl::SleepFor(absl::Milliseconds(2000));
  gateways.push_back(start_gateway(1, "gateway-1-restarted"));
  absl::SleepFor(absl::Milliseconds(2000));
  stop = true;
  load.join();
  std::set<std::string> acked_spans;
  {
    absl::MutexLock lock(&mu);
    acked_spans = acked;
  }
  ASSERT_GT(acked_spans.size(), 1000u);
  auto missing = [&] {
    Delivered d = Read(gateways);
    size_t n = 0;
    for (const std::string& k : acked_spans) n += d.spans.contains(k) ? 0 : 1;
    return n;
  };
  EXPECT_TRUE(WaitUntil([&] { return missing() == 0; }, absl::Seconds(15)));
  const std::string metrics = testing::ScrapeMetrics(testing::PortOf(vars, "METRICS_PORT"));
  Delivered d = Read(gateways);
  EXPECT_TRUE(d.ok);
  size_t duplicates = 0;
  for (const auto& [k, n] : d.spans) duplicates += n > 1 ? n - 1 : 0;
  const double ejections =
      testing::SelfMetric(metrics, "otelcol_loadbalancer_ejections").value_or(0);
  const double rerouted =
      testing::SelfMetric(metrics, "otelcol_loadbalancer_rerouted_spans").value_or(0);
  std::cout << "phase 2: " << acked_spans.size() << " spans acknowledged (" << refused
            << " requests refused), missing " << missing() << ", duplicates " << duplicates
            << ", ejections " << ejections << ", re-routed spans " << rerouted << std::endl;
  EXPECT_EQ(missing(), 0u) << edge.Stderr();
  EXPECT_GE(ejections, 1);

  // 3. The new gateway on the killed one's port is back in the ring once its ejection ends.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return testing::SelfMetric(testing::ScrapeMetrics(testing::PortOf(vars, "METRICS_PORT")),
                                   "otelcol_loadbalancer_num_backends_ejected")
                   .value_or(-1) == 0;
      },
      absl::Seconds(10)));
  size_t phase3 = 0;
  for (int r = 0; r < 4; ++r) {
    TracesRequest req = Request(3, r, 60, 5, 4);
    phase3 += CountItems(req);
    ASSERT_TRUE(client.Export(req).ok());
  }
  Gateway& restarted = gateways.back();
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto got = testing::ReadTracesFile(restarted.process->File("traces.jsonl"));
        if (!got.ok()) return false;
        std::set<std::string> phase3_traces;
        for (int t = 0; t < 60; ++t) phase3_traces.insert(MakeTraceId(3, t));
        for (const TracesRequest& r : *got)
          for (const auto& rs : r.resource_spans())
            for (const auto& ss : rs.scope_spans())
              for (const auto& span : ss.spans())
                if (phase3_traces.contains(span.trace_id())) return true;
        return false;
      },
      absl::Seconds(10)))
      << "the restarted gateway got none of the new traces";
  EXPECT_TRUE(
      WaitUntil([&] { return Read(gateways).spans.size() >= phase1 + acked_spans.size() + phase3; },
                absl::Seconds(10)));
}

}  // namespace
}  // namespace otlpd
