// The loadbalancing exporter in process, over real otlp exporters (through the otlp
// factory) to real gRPC upstreams: traces arrive whole at one backend; a backend that
// leaves the membership, or is ejected for failing, has its queued data re-routed to the
// others (memory and durable file_storage queues) and nothing is lost; ejection respects
// max_ejection_percent and ends after its time; no backend means a retryable refusal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "core/status.h"
#include "exporters/loadbalancing/factory.h"
#include "exporters/loadbalancing/loadbalancing_exporter.h"
#include "exporters/otlp/factory.h"
#include "extensions/file_storage/factory.h"
#include "testing/otlp_data.h"
#include "testing/temp_dir.h"
#include "testing/test_host.h"
#include "testing/upstream.h"
#include "testing/wait.h"

namespace otlpd {
namespace {

using testing::GrpcUpstream;
using testing::HexId;
using testing::MakeTraceId;
using testing::WaitUntil;

const ExporterFactory& Factory() {
  static const auto* factory = NewLoadBalancingExporterFactory(NewOtlpExporterFactory()).release();
  return *factory;
}

std::string Endpoint(const GrpcUpstream& u) { return absl::StrCat("127.0.0.1:", u.port()); }

// Request `r` of a stream where trace t's spans are spread over `requests` requests.
TelemetryPtr TraceRequest(uint64_t seed, int r, int traces, int spans_per_trace_per_request) {
  auto t = std::make_shared<Telemetry>(Signal::kTraces);
  auto* rs = t->mutable_traces()->add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("lb-test");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("lb");
  for (int i = 0; i < spans_per_trace_per_request; ++i) {
    for (int trace = 0; trace < traces; ++trace) {
      auto* span = ss->add_spans();
      span->set_trace_id(MakeTraceId(seed, trace));
      span->set_span_id(MakeTraceId(seed * 1000 + r, trace * 100 + i).substr(0, 8));
      span->set_name("op");
    }
  }
  return t;
}

absl::Status ConsumeSync(Exporter& e, TelemetryPtr data) {
  absl::Notification n;
  absl::Status result;
  e.Consume(std::move(data), [&](absl::Status s) {
    result = std::move(s);
    n.Notify();
  });
  n.WaitForNotification();
  return result;
}

// trace id (hex) -> upstream indexes it reached; spans counted once per (trace, span id).
struct Received {
  std::map<std::string, std::set<int>> trace_backends;
  std::set<std::string> spans;
  int duplicates = 0;
};

Received Collect(const std::vector<GrpcUpstream*>& upstreams) {
  Received out;
  for (size_t u = 0; u < upstreams.size(); ++u) {
    for (const TracesRequest& r : testing::DecodeTraces(upstreams[u]->requests(), true)) {
      for (const auto& rs : r.resource_spans())
        for (const auto& ss : rs.scope_spans())
          for (const auto& span : ss.spans()) {
            out.trace_backends[HexId(span.trace_id())].insert(static_cast<int>(u));
            if (!out.spans.insert(span.trace_id() + span.span_id()).second) ++out.duplicates;
          }
    }
  }
  return out;
}

struct Harness {
  Harness() = default;
  explicit Harness(const std::string& yaml) { Parse(yaml); }
  void Parse(const std::string& yaml) {
    Diagnostics diag;
    ConfigNode node(YAML::Load(yaml), "exporters::loadbalancing", &diag);
    config = Factory().ParseConfig(node);
    node.ReportUnknownKeys();
    EXPECT_TRUE(diag.ok()) << diag.Format();
  }
  void Create() {
    auto created = Factory().Create(CreateSettings{{"loadbalancing", "t"}, &host}, *config);
    ASSERT_TRUE(created.ok()) << created.status();
    exporter.reset(static_cast<LoadBalancingExporter*>(created->release()));
    ASSERT_TRUE(exporter->Start().ok());
  }
  ~Harness() {
    if (exporter) exporter->Shutdown(absl::Now() + absl::Seconds(2));
  }
  double Metric(const std::string& name, Labels labels = {}) {
    labels.insert(labels.begin(), {"exporter", "loadbalancing/t"});
    return static_cast<double>(host.registry.GetCounter(name, labels)->value());
  }

  testing::TestHost host;
  std::unique_ptr<ComponentConfig> config;
  std::unique_ptr<LoadBalancingExporter> exporter;
};

std::string Config(const std::vector<std::string>& endpoints, const std::string& extra = "") {
  return absl::StrCat(R"(
routing_key: traceID
protocol:
  otlp:
    tls: {insecure: true}
    timeout: 2s
    retry_on_failure: {initial_interval: 20ms, max_interval: 100ms}
    sending_queue: {num_consumers: 2}
resolver:
  static:
    hostnames: [)",
                      absl::StrJoin(endpoints, ", "), "]\n", extra);
}

constexpr int kTraces = 24;

TEST(LoadBalancingExporterTest, EveryTraceArrivesWholeAtOneBackend) {
  GrpcUpstream a, b, c;
  Harness h(Config({Endpoint(a), Endpoint(b), Endpoint(c)}));
  ASSERT_NO_FATAL_FAILURE(h.Create());
  EXPECT_EQ(h.exporter->RingMembers().size(), 3u);
  for (int r = 0; r < 6; ++r)
    ASSERT_TRUE(ConsumeSync(*h.exporter, TraceRequest(1, r, kTraces, 2)).ok());
  const size_t total = 6 * kTraces * 2;
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Collect({&a, &b, &c}).spans.size() == total;
      },
      absl::Seconds(10)));
  Received got = Collect({&a, &b, &c});
  EXPECT_EQ(got.duplicates, 0);
  ASSERT_EQ(got.trace_backends.size(), static_cast<size_t>(kTraces));
  std::set<int> used;
  for (const auto& [trace, backends] : got.trace_backends) {
    EXPECT_EQ(backends.size(), 1u) << "trace " << trace << " split";
    used.insert(backends.begin(), backends.end());
  }
  EXPECT_EQ(used.size(), 3u);
  EXPECT_GE(h.Metric("otelcol_loadbalancer_backend_outcome",
                     {{"endpoint", Endpoint(a)}, {"success", "true"}}),
            1);
  EXPECT_EQ(h.host.registry
                .GetGauge("otelcol_loadbalancer_num_backends", {{"exporter", "loadbalancing/t"}})
                ->value(),
            3);
}

// A backend that refuses everything keeps its data queued (outlier detection off); once
// the membership drops it, its queue is re-routed to the others: nothing is lost. When it
// is listed again it re-joins the ring.
TEST(LoadBalancingExporterTest, RemovedBackendsQueueIsReroutedNotLost) {
  GrpcUpstream a;
  GrpcUpstream down([](int, const auto&) { return grpc::Status(grpc::UNAVAILABLE, "down"); });
  Harness h(Config({Endpoint(a), Endpoint(down)}, "outlier_detection: {enabled: false}\n"));
  ASSERT_NO_FATAL_FAILURE(h.Create());
  for (int r = 0; r < 6; ++r)
    ASSERT_TRUE(ConsumeSync(*h.exporter, TraceRequest(2, r, kTraces, 2)).ok());
  // Some of it is stuck at the refusing backend.
  ASSERT_TRUE(WaitUntil([&] { return down.requests().size() >= 2; }, absl::Seconds(10)));
  EXPECT_LT(Collect({&a}).spans.size(), 6u * kTraces * 2);
  h.exporter->SetBackends({Endpoint(a)});
  EXPECT_THAT(h.exporter->RingMembers(), ::testing::ElementsAre(Endpoint(a)));
  ASSERT_TRUE(
      WaitUntil([&] { return Collect({&a}).spans.size() == 6u * kTraces * 2; }, absl::Seconds(10)))
      << Collect({&a}).spans.size();
  EXPECT_GT(h.Metric("otelcol_loadbalancer_rerouted_spans"), 0);
  EXPECT_EQ(h.Metric("otelcol_exporter_send_failed_spans"), 0);
  h.exporter->SetBackends({Endpoint(a), Endpoint(down)});
  EXPECT_EQ(h.exporter->RingMembers().size(), 2u);
  EXPECT_EQ(h.Metric("otelcol_loadbalancer_ring_changes"), 3);
}

TEST(LoadBalancingExporterTest, DurableQueueOfARemovedBackendIsRerouted) {
  testing::TempDir dir("lb-durable");
  Harness h;
  {
    Diagnostics diag;
    ConfigNode node(YAML::Load(absl::StrCat("directory: ", dir.path())), "extensions::file_storage",
                    &diag);
    auto factory = NewFileStorageExtensionFactory();
    auto cfg = factory->ParseConfig(node);
    ASSERT_TRUE(diag.ok()) << diag.Format();
    auto ext = factory->Create(CreateSettings{{"file_storage", "lb"}, &h.host}, *cfg);
    ASSERT_TRUE(ext.ok()) << ext.status();
    ASSERT_TRUE((*ext)->Start().ok());
    h.host.extensions[{"file_storage", "lb"}] = std::move(*ext);
  }
  GrpcUpstream a;
  GrpcUpstream down([](int, const auto&) { return grpc::Status(grpc::UNAVAILABLE, "down"); });
  std::string yaml = Config({Endpoint(a), Endpoint(down)}, "outlier_detection: {enabled: false}\n");
  yaml.replace(yaml.find("sending_queue: {num_consumers: 2}"),
               std::string("sending_queue: {num_consumers: 2}").size(),
               "sending_queue: {num_consumers: 2, storage: file_storage/lb}");
  h.Parse(yaml);
  ASSERT_NO_FATAL_FAILURE(h.Create());
  for (int r = 0; r < 6; ++r)
    ASSERT_TRUE(ConsumeSync(*h.exporter, TraceRequest(3, r, kTraces, 2)).ok());
  ASSERT_TRUE(WaitUntil([&] { return down.requests().size() >= 2; }, absl::Seconds(10)));
  h.exporter->SetBackends({Endpoint(a)});
  ASSERT_TRUE(
      WaitUntil([&] { return Collect({&a}).spans.size() == 6u * kTraces * 2; }, absl::Seconds(10)))
      << Collect({&a}).spans.size();
  EXPECT_GT(h.Metric("otelcol_loadbalancer_rerouted_spans"), 0);
  Received got = Collect({&a});
  EXPECT_EQ(got.trace_backends.size(), static_cast<size_t>(kTraces));
}

TEST(LoadBalancingExporterTest, FailingBackendIsEjectedReroutedAndReturns) {
  GrpcUpstream a, b;
  GrpcUpstream down([](int, const auto&) { return grpc::Status(grpc::UNAVAILABLE, "down"); });
  Harness h(Config({Endpoint(a), Endpoint(b), Endpoint(down)},
                   "outlier_detection: {consecutive_errors: 2, base_ejection_time: 700ms, "
                   "max_ejection_percent: 34}\n"));
  ASSERT_NO_FATAL_FAILURE(h.Create());
  for (int r = 0; r < 6; ++r)
    ASSERT_TRUE(ConsumeSync(*h.exporter, TraceRequest(4, r, kTraces, 2)).ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Collect({&a, &b}).spans.size() == 6u * kTraces * 2;
      },
      absl::Seconds(10)))
      << Collect({&a, &b}).spans.size();
  EXPECT_GE(h.Metric("otelcol_loadbalancer_ejections", {{"endpoint", Endpoint(down)}}), 1);
  EXPECT_GT(h.Metric("otelcol_loadbalancer_rerouted_spans"), 0);
  // Every trace still whole: a re-routed trace moves as a whole.
  for (const auto& [trace, backends] : Collect({&a, &b}).trace_backends) {
    EXPECT_EQ(backends.size(), 1u) << trace;
  }
  // Its ejection ends (700 ms) and it is back in the ring.
  ASSERT_TRUE(WaitUntil([&] { return h.exporter->RingMembers().size() == 3u; }, absl::Seconds(5)));
}

TEST(LoadBalancingExporterTest, EjectionStopsAtMaxEjectionPercent) {
  auto refuse = [](int, const auto&) { return grpc::Status(grpc::UNAVAILABLE, "down"); };
  GrpcUpstream x(refuse), y(refuse), z(refuse);
  Harness h(Config({Endpoint(x), Endpoint(y), Endpoint(z)},
                   "outlier_detection: {consecutive_errors: 1, base_ejection_time: 30s, "
                   "max_ejection_percent: 34}\n"));
  ASSERT_NO_FATAL_FAILURE(h.Create());
  for (int r = 0; r < 4; ++r)
    ASSERT_TRUE(ConsumeSync(*h.exporter, TraceRequest(5, r, kTraces, 1)).ok());
  ASSERT_TRUE(WaitUntil(
      [&] { return x.requests().size() + y.requests().size() + z.requests().size() >= 20; },
      absl::Seconds(10)));
  Gauge* ejected = h.host.registry.GetGauge("otelcol_loadbalancer_num_backends_ejected",
                                            {{"exporter", "loadbalancing/t"}});
  EXPECT_EQ(ejected->value(), 1);
  EXPECT_EQ(h.exporter->RingMembers().size(), 2u);
}

std::string DnsConfig(const std::string& hostname, int port) {
  return absl::StrCat(R"(
protocol:
  otlp:
    tls: {insecure: true}
    retry_on_failure: {initial_interval: 20ms, max_interval: 100ms}
    sending_queue: {num_consumers: 2}
resolver:
  dns: {hostname: )",
                      hostname, ", port: ", port, R"(, interval: 100ms, timeout: 2s}
outlier_detection: {consecutive_errors: 1}
)");
}

TEST(LoadBalancingExporterTest, DnsResolverFindsTheBackendsAndResolvesAgain) {
  GrpcUpstream a;
  Harness h(DnsConfig("localhost", a.port()));
  ASSERT_NO_FATAL_FAILURE(h.Create());
  // localhost may also give [::1], where nothing listens: that one is ejected and what it
  // got is re-routed, so everything still reaches the upstream on 127.0.0.1.
  EXPECT_THAT(h.exporter->RingMembers(), ::testing::Contains(Endpoint(a)));
  for (int r = 0; r < 4; ++r)
    ASSERT_TRUE(ConsumeSync(*h.exporter, TraceRequest(8, r, kTraces, 1)).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return Collect({&a}).spans.size() == 4u * kTraces; }, absl::Seconds(10)));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return h.Metric("otelcol_loadbalancer_num_resolutions", {{"success", "true"}}) >= 3;
      },
      absl::Seconds(5)));
  // Resolving the same addresses again changes nothing.
  EXPECT_LE(h.Metric("otelcol_loadbalancer_ring_changes"), 3);
}

TEST(LoadBalancingExporterTest, FailedResolutionKeepsTheLastBackends) {
  GrpcUpstream a;
  Harness h(DnsConfig("no-such-host.invalid", a.port()));
  ASSERT_NO_FATAL_FAILURE(h.Create());
  EXPECT_TRUE(h.exporter->RingMembers().empty());
  EXPECT_EQ(ConsumeSync(*h.exporter, TraceRequest(9, 0, 3, 1)).code(),
            absl::StatusCode::kUnavailable);
  // As if an earlier resolution had found `a`: later failures leave it in place.
  h.exporter->SetBackends({Endpoint(a)});
  const double failed = h.Metric("otelcol_loadbalancer_num_resolutions", {{"success", "false"}});
  ASSERT_TRUE(WaitUntil(
      [&] {
        return h.Metric("otelcol_loadbalancer_num_resolutions", {{"success", "false"}}) >=
               failed + 2;
      },
      absl::Seconds(5)));
  EXPECT_THAT(h.exporter->RingMembers(), ::testing::ElementsAre(Endpoint(a)));
  ASSERT_TRUE(ConsumeSync(*h.exporter, TraceRequest(9, 1, 3, 1)).ok());
  EXPECT_TRUE(WaitUntil([&] { return Collect({&a}).spans.size() == 3u; }, absl::Seconds(5)));
}

TEST(LoadBalancingExporterTest, NoBackendRefusesRetryably) {
  GrpcUpstream a;
  Harness h(Config({Endpoint(a)}));
  ASSERT_NO_FATAL_FAILURE(h.Create());
  h.exporter->SetBackends({});
  absl::Status s = ConsumeSync(*h.exporter, TraceRequest(6, 0, 3, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(IsRetryable(s));
  EXPECT_EQ(h.Metric("otelcol_exporter_enqueue_failed_spans"), 3);
}

// A full backend queue refuses the whole call retryably too.

TEST(LoadBalancingExporterTest, FullBackendQueueRefusesTheWholeCall) {
  GrpcUpstream slow([](int, const auto&) {
    absl::SleepFor(absl::Milliseconds(300));
    return grpc::Status::OK;
  });
  std::string yaml = Config({Endpoint(slow)});
  yaml.replace(yaml.find("sending_queue: {num_consumers: 2}"),
               std::string("sending_queue: {num_consumers: 2}").size(),
               "sending_queue: {num_consumers: 1, queue_size: 2}");
  Harness h(yaml);
  ASSERT_NO_FATAL_FAILURE(h.Create());
  int refused = 0;
  for (int r = 0; r < 8; ++r) {
    absl::Status s = ConsumeSync(*h.exporter, TraceRequest(7, r, 2, 1));
    if (!s.ok()) {
      ++refused;
      EXPECT_TRUE(IsRetryable(s)) << s;
    }
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace otlpd
