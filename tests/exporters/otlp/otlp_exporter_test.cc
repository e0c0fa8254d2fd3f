#include "exporters/otlp/otlp_exporter.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/auth.h"
#include "core/status.h"
#include "exporters/otlp/config.h"
#include "exporters/otlp/factory.h"
#include "google/rpc/retry_info.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "testing/ports.h"
#include "testing/temp_dir.h"
#include "testing/test_host.h"
#include "testing/wait.h"

namespace otlpd {
namespace {

namespace trace_v1 = opentelemetry::proto::collector::trace::v1;
namespace metrics_v1 = opentelemetry::proto::collector::metrics::v1;
namespace logs_v1 = opentelemetry::proto::collector::logs::v1;

using ::otlpd::testing::WaitUntil;

using otlpd::testing::TestHost;

// --- the upstream: a real OTLP/gRPC server ------------------------------------------

struct Received {
  Signal signal;
  std::string request;  // serialized Export*ServiceRequest
  std::multimap<std::string, std::string> metadata;
};

// An OTLP/gRPC server for all three signals that records what it accepted and can be
// told to fail the next N calls.
class Upstream {
 public:
  // Starts on 127.0.0.1:port (0 = any free port).
  static std::unique_ptr<Upstream> Start(int port = 0,
                                         std::shared_ptr<grpc::ServerCredentials> creds = nullptr) {
    auto up = std::unique_ptr<Upstream>(new Upstream());
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port),
                             creds ? creds : grpc::InsecureServerCredentials(), &up->port_);
    builder.RegisterService(&up->traces_);
    builder.RegisterService(&up->metrics_);
    builder.RegisterService(&up->logs_);
    up->server_ = builder.BuildAndStart();
    if (!up->server_ || up->port_ == 0) return nullptr;
    return up;
  }
  ~Upstream() { Stop(); }
  void Stop() {
    if (server_) {
      {
        absl::MutexLock lock(&mu_);
        release_ = true;
      }
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
      server_.reset();
    }
  }

  int port() const { return port_; }
  std::string endpoint() const { return absl::StrCat("127.0.0.1:", port_); }

  // The next `times` calls fail with `code` (+ RetryInfo when `retry_after` is set).
  void FailNext(int times, grpc::StatusCode code,
                std::optional<absl::Duration> retry_after = std::nullopt) {
    absl::MutexLock lock(&mu_);
    fail_times_ = times;
    fail_code_ = code;
    fail_retry_after_ = retry_after;
  }
  // Calls block until Stop() (or 20s).
  void Hang() {
    absl::MutexLock lock(&mu_);
    hang_ = true;
  }

  std::vector<Received> received() const {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  size_t received_count() const {
    absl::MutexLock lock(&mu_);
    return received_.size();
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  Upstream() : traces_(this), metrics_(this), logs_(this) {}

  grpc::Status Handle(grpc::ServerContext* ctx, Signal signal,
                      const google::protobuf::Message& request) {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (hang_) {
      mu_.AwaitWithTimeout(absl::Condition(&release_), absl::Seconds(20));
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "was hanging");
    }
    if (fail_times_ > 0) {
      --fail_times_;
      std::string details;
      if (fail_retry_after_) {
        google::rpc::RetryInfo info;
        info.mutable_retry_delay()->set_seconds(absl::ToInt64Seconds(*fail_retry_after_));
        info.mutable_retry_delay()->set_nanos(
            static_cast<int32_t>(absl::ToInt64Nanoseconds(*fail_retry_after_ % absl::Seconds(1))));
        google::rpc::Status status;
        status.set_code(fail_code_);
        status.set_message("scripted failure");
        status.add_details()->PackFrom(info);
        details = status.SerializeAsString();
      }
      return grpc::Status(fail_code_, "scripted failure", details);
    }
    Received r{signal, request.SerializeAsString(), {}};
    for (const auto& [key, value] : ctx->client_metadata()) {
      r.metadata.emplace(std::string(key.data(), key.size()),
                         std::string(value.data(), value.size()));
    }
    received_.push_back(std::move(r));
    return grpc::Status::OK;
  }

  class TraceImpl final : public trace_v1::TraceService::Service {
   public:
    explicit TraceImpl(Upstream* up) : up_(up) {}
    grpc::Status Export(grpc::ServerContext* ctx, const trace_v1::ExportTraceServiceRequest* req,
                        trace_v1::ExportTraceServiceResponse*) override {
      return up_->Handle(ctx, Signal::kTraces, *req);
    }
    Upstream* up_;
  };
  class MetricsImpl final : public metrics_v1::MetricsService::Service {
   public:
    explicit MetricsImpl(Upstream* up) : up_(up) {}
    grpc::Status Export(grpc::ServerContext* ctx,
                        const metrics_v1::ExportMetricsServiceRequest* req,
                        metrics_v1::ExportMetricsServiceResponse*) override {
      return up_->Handle(ctx, Signal::kMetrics, *req);
    }
    Upstream* up_;
  };
  class LogsImpl final : public logs_v1::LogsService::Service {
   public:
    explicit LogsImpl(Upstream* up) : up_(up) {}
    grpc::Status Export(grpc::ServerContext* ctx, const logs_v1::ExportLogsServiceRequest* req,
                        logs_v1::ExportLogsServiceResponse*) override {
      return up_->Handle(ctx, Signal::kLogs, *req);
    }
    Upstream* up_;
  };

  mutable absl::Mutex mu_;
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_times_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::StatusCode fail_code_ ABSL_GUARDED_BY(mu_) = grpc::StatusCode::OK;
  std::optional<absl::Duration> fail_retry_after_ ABSL_GUARDED_BY(mu_);
  bool hang_ ABSL_GUARDED_BY(mu_) = false;
  bool release_ ABSL_GUARDED_BY(mu_) = false;

  TraceImpl traces_;
  MetricsImpl metrics_;
  LogsImpl logs_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// A TCP relay that counts the bytes the client sends: shows what compression did on
// the wire (gRPC consumes the grpc-encoding header before the service sees metadata).
class CountingProxy {
 public:
  explicit CountingProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 16) != 0) {
      return;
    }
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~CountingProxy() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : pumps_) t.join();
    for (int fd : fds_) close(fd);
    close(listen_fd_);
  }
  int port() const { return port_; }
  uint64_t client_bytes() const { return client_bytes_.load(); }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;
      int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(target_port_));
      if (connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        close(client);
        close(server);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      fds_.push_back(client);
      fds_.push_back(server);
      pumps_.emplace_back([this, client, server] { Pump(client, server, &client_bytes_); });
      pumps_.emplace_back([this, client, server] { Pump(server, client, nullptr); });
    }
  }
  static void Pump(int from, int to, std::atomic<uint64_t>* count) {
    char buf[16384];
    while (true) {
      ssize_t n = read(from, buf, sizeof(buf));
      if (n <= 0) break;
      if (count) *count += static_cast<uint64_t>(n);
      for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
        if (w <= 0) return;
        off += w;
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> client_bytes_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> pumps_;
};

// --- data ------------------------------------------------------------------------

TelemetryPtr MakeTraces(const std::string& name, int spans = 1) {
  auto t = std::make_shared<Telemetry>(Signal::kTraces);
  auto* rs = t->mutable_traces()->add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("checkout");
  auto* scope = rs->add_scope_spans();
  for (int i = 0; i < spans; ++i) {
    auto* span = scope->add_spans();
    span->set_name(name);
    span->set_trace_id(std::string(16, static_cast<char>(i + 1)));
    span->set_span_id(std::string(8, static_cast<char>(i + 1)));
    span->set_start_time_unix_nano(1700000000000000000ull + i);
  }
  return t;
}

TelemetryPtr MakeMetrics(const std::string& name, int points) {
  auto t = std::make_shared<Telemetry>(Signal::kMetrics);
  auto* metric = t->mutable_metrics()->add_resource_metrics()->add_scope_metrics()->add_metrics();
  metric->set_name(name);
  for (int i = 0; i < points; ++i) metric->mutable_gauge()->add_data_points()->set_as_int(i);
  return t;
}

TelemetryPtr MakeLogs(const std::string& body, int records) {
  auto t = std::make_shared<Telemetry>(Signal::kLogs);
  auto* scope = t->mutable_logs()->add_resource_logs()->add_scope_logs();
  for (int i = 0; i < records; ++i) {
    scope->add_log_records()->mutable_body()->set_string_value(absl::StrCat(body, i));
  }
  return t;
}

std::string SpanName(const Received& r) {
  trace_v1::ExportTraceServiceRequest req;
  EXPECT_TRUE(req.ParseFromString(r.request));
  return req.resource_spans(0).scope_spans(0).spans(0).name();
}

// --- exporter set-up -------------------------------------------------------------

struct Parsed {
  Diagnostics diag;
  std::unique_ptr<ComponentConfig> config;
};

std::unique_ptr<Parsed> ParseYaml(const std::string& yaml) {
  auto p = std::make_unique<Parsed>();
  std::unique_ptr<ExporterFactory> factory = NewOtlpExporterFactory();
  ConfigNode root(YAML::Load(yaml), "exporters::otlp", &p->diag);
  p->config = factory->ParseConfig(root);
  root.ReportUnknownKeys();
  return p;
}

// Fast retries so that tests take milliseconds.
std::string FastRetryYaml(int consumers = 1) {
  return absl::StrCat(R"(
sending_queue: {num_consumers: )",
                      consumers, R"(, queue_size: 100}
retry_on_failure: {initial_interval: 10ms, max_interval: 50ms, max_elapsed_time: 10s, randomization_factor: 0}
)");
}

struct Completions {
  absl::Mutex mu;
  std::vector<absl::Status> statuses;
  Completion Done() {
    return [this](absl::Status s) {
      absl::MutexLock lock(&mu);
      statuses.push_back(std::move(s));
    };
  }
  size_t size() {
    absl::MutexLock lock(&mu);
    return statuses.size();
  }
};

class OtlpExporterTest : public ::testing::Test {
 protected:
  // Creates and starts an "otlp" exporter from `yaml` (which must be valid).
  std::unique_ptr<Exporter> MakeExporter(const std::string& yaml,
                                         const std::string& name = "upstream") {
    parsed_ = ParseYaml(yaml);
    EXPECT_TRUE(parsed_->diag.ok()) << parsed_->diag.Format();
    if (!parsed_->diag.ok()) return nullptr;
    id_ = {"otlp", name};
    CreateSettings settings{id_, &host_};
    absl::StatusOr<std::unique_ptr<Exporter>> exporter =
        NewOtlpExporterFactory()->Create(settings, *parsed_->config);
    EXPECT_TRUE(exporter.ok()) << exporter.status();
    if (!exporter.ok()) return nullptr;
    absl::Status started = (*exporter)->Start();
    EXPECT_TRUE(started.ok()) << started;
    return *std::move(exporter);
  }
  uint64_t Counter(const std::string& name) { return host_.Counter(name, id_.ToString()); }

  TestHost host_;
  ComponentId id_;
  std::unique_ptr<Parsed> parsed_;
  Completions done_;
};

TEST_F(OtlpExporterTest, DeliversAllSignalsWithHeaders) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  auto exporter = MakeExporter(absl::StrCat("endpoint: ", up->endpoint(), R"(
tls: {insecure: true}
headers: {X-Tenant: acme, authorization: "Bearer t0k"}
)",
                                            FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  TelemetryPtr traces = MakeTraces("checkout", 3);
  TelemetryPtr metrics = MakeMetrics("queue.depth", 4);
  TelemetryPtr logs = MakeLogs("hello", 5);
  exporter->Consume(traces, done_.Done());
  exporter->Consume(metrics, done_.Done());
  exporter->Consume(logs, done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 3; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));

  std::vector<Received> got = up->received();
  ASSERT_EQ(got.size(), 3u);
  std::map<Signal, const Received*> by_signal;
  for (const Received& r : got) by_signal[r.signal] = &r;
  ASSERT_EQ(by_signal.size(), 3u);
  EXPECT_EQ(by_signal[Signal::kTraces]->request, traces->message().SerializeAsString());
  EXPECT_EQ(by_signal[Signal::kMetrics]->request, metrics->message().SerializeAsString());
  EXPECT_EQ(by_signal[Signal::kLogs]->request, logs->message().SerializeAsString());
  for (const Received& r : got) {
    auto tenant = r.metadata.find("x-tenant");
    ASSERT_NE(tenant, r.metadata.end());
    EXPECT_EQ(tenant->second, "acme");
    auto auth = r.metadata.find("authorization");
    ASSERT_NE(auth, r.metadata.end());
    EXPECT_EQ(auth->second, "Bearer t0k");
    auto agent = r.metadata.find("user-agent");
    ASSERT_NE(agent, r.metadata.end());
    EXPECT_NE(agent->second.find("otlpd/"), std::string::npos) << agent->second;
  }
  ASSERT_EQ(done_.size(), 3u);
  for (const absl::Status& s : done_.statuses) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 3u);
  EXPECT_EQ(Counter("otelcol_exporter_sent_metric_points"), 4u);
  EXPECT_EQ(Counter("otelcol_exporter_sent_log_records"), 5u);
  EXPECT_EQ(Counter("otelcol_exporter_send_failed_spans"), 0u);
}

TEST_F(OtlpExporterTest, RetriesUnavailableOnRetryInfoAndDeliversOnce) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  // Backoff of 5s: only the server's RetryInfo (50ms) lets this finish quickly.
  auto exporter = MakeExporter(absl::StrCat("endpoint: ", up->endpoint(), R"(
tls: {insecure: true}
sending_queue: {num_consumers: 1}
retry_on_failure: {initial_interval: 5s, max_interval: 5s, randomization_factor: 0}
)"));
  ASSERT_NE(exporter, nullptr);
  up->FailNext(3, grpc::StatusCode::UNAVAILABLE, absl::Milliseconds(50));
  const absl::Time start = absl::Now();
  for (int i = 0; i < 5; ++i) exporter->Consume(MakeTraces(absl::StrCat("b", i), 2), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 5; }, absl::Seconds(10)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  std::vector<Received> got = up->received();
  ASSERT_EQ(got.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(SpanName(got[i]), absl::StrCat("b", i));
  EXPECT_EQ(up->calls(), 8);
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 10u);
  EXPECT_EQ(Counter("otelcol_exporter_send_failed_spans"), 0u);
}

TEST_F(OtlpExporterTest, PermanentErrorIsDroppedAndCounted) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  auto exporter = MakeExporter(
      absl::StrCat("endpoint: ", up->endpoint(), "\ntls: {insecure: true}\n", FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  up->FailNext(1, grpc::StatusCode::INVALID_ARGUMENT);
  exporter->Consume(MakeTraces("rejected", 4), done_.Done());
  exporter->Consume(MakeTraces("accepted", 1), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 1; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(up->calls(), 2);  // no retry of the rejected one
  EXPECT_EQ(SpanName(up->received()[0]), "accepted");
  EXPECT_EQ(Counter("otelcol_exporter_send_failed_spans"), 4u);
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 1u);
}

TEST_F(OtlpExporterTest, ResourceExhaustedIsRetriedOnlyWithRetryInfo) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  auto exporter = MakeExporter(
      absl::StrCat("endpoint: ", up->endpoint(), "\ntls: {insecure: true}\n", FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  up->FailNext(1, grpc::StatusCode::RESOURCE_EXHAUSTED);
  exporter->Consume(MakeTraces("no-hint", 2), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return Counter("otelcol_exporter_send_failed_spans") == 2; },
                        absl::Seconds(10)));
  EXPECT_EQ(up->calls(), 1);

  up->FailNext(2, grpc::StatusCode::RESOURCE_EXHAUSTED, absl::Milliseconds(20));
  exporter->Consume(MakeTraces("hint", 3), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 1; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(up->calls(), 4);
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 3u);
}

TEST_F(OtlpExporterTest, GzipCompressesOnTheWire) {
  // 50 spans named with 2000 'z's: ~100kB raw, a few hundred bytes gzipped.
  TelemetryPtr traces = MakeTraces(std::string(2000, 'z'), 50);
  const uint64_t raw = traces->message().ByteSizeLong();
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  uint64_t gzip_bytes = 0, none_bytes = 0;
  for (const std::string compression : {"gzip", "none"}) {
    CountingProxy proxy(up->port());
    ASSERT_NE(proxy.port(), 0);
    auto exporter = MakeExporter(
        absl::StrCat("endpoint: http://127.0.0.1:", proxy.port(),
                     "\ntls: {insecure: true}\ncompression: ", compression, "\n", FastRetryYaml()),
        compression);
    ASSERT_NE(exporter, nullptr);
    const size_t before = up->received_count();
    exporter->Consume(traces, done_.Done());
    ASSERT_TRUE(WaitUntil([&] { return up->received_count() == before + 1; }, absl::Seconds(10)));
    exporter->Shutdown(absl::Now() + absl::Seconds(5));
    EXPECT_EQ(up->received().back().request, traces->message().SerializeAsString());
    (compression == "gzip" ? gzip_bytes : none_bytes) = proxy.client_bytes();
  }
  EXPECT_GT(none_bytes, raw);
  EXPECT_LT(gzip_bytes, raw / 10) << "raw " << raw << ", uncompressed on the wire " << none_bytes;
}

TEST_F(OtlpExporterTest, DeliversOnceUpstreamComesUp) {
  const int port = ::otlpd::testing::FreePort();
  auto exporter = MakeExporter(
      absl::StrCat("endpoint: 127.0.0.1:", port, "\ntls: {insecure: true}\n", FastRetryYaml(2)));
  ASSERT_NE(exporter, nullptr);
  exporter->Consume(MakeTraces("early", 2), done_.Done());
  exporter->Consume(MakeLogs("early", 3), done_.Done());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 0u);
  EXPECT_EQ(Counter("otelcol_exporter_send_failed_spans"), 0u);  // still retrying
  auto up = Upstream::Start(port);
  ASSERT_NE(up, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 2; }, absl::Seconds(15)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(up->received_count(), 2u);
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 2u);
  EXPECT_EQ(Counter("otelcol_exporter_sent_log_records"), 3u);
}

TEST_F(OtlpExporterTest, ShutdownCancelsCallInFlightAtDeadline) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  up->Hang();
  auto exporter = MakeExporter(absl::StrCat(
      "endpoint: ", up->endpoint(), "\ntls: {insecure: true}\ntimeout: 30s\n", FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  exporter->Consume(MakeTraces("stuck", 2), done_.Done());
  exporter->Consume(MakeTraces("queued", 3), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->calls() == 1; }, absl::Seconds(10)));
  const absl::Time start = absl::Now();
  exporter->Shutdown(start + absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(Counter("otelcol_exporter_send_failed_spans"), 5u);
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 0u);
  up->Stop();
}

TEST_F(OtlpExporterTest, QueueDisabledReportsUpstreamOutcome) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  auto exporter = MakeExporter(absl::StrCat("endpoint: ", up->endpoint(), R"(
tls: {insecure: true}
sending_queue: {enabled: false, num_consumers: 1}
retry_on_failure: {enabled: false}
)"));
  ASSERT_NE(exporter, nullptr);
  up->FailNext(1, grpc::StatusCode::INVALID_ARGUMENT);
  exporter->Consume(MakeTraces("bad"), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return done_.size() == 1; }, absl::Seconds(10)));
  exporter->Consume(MakeTraces("good"), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return done_.size() == 2; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(done_.statuses[0].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(done_.statuses[1].ok()) << done_.statuses[1];
}

// --- TLS ------------------------------------------------------------------------

// A self-signed certificate for 127.0.0.1 / localhost made with the openssl tool.
struct Certs {
  std::string cert_file, key_file, cert, key;
};
std::optional<Certs> MakeCerts(const ::otlpd::testing::TempDir& dir) {
  Certs c{dir.File("cert.pem"), dir.File("key.pem"), "", ""};
  std::string cmd = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout ",
      c.key_file, " -out ", c.cert_file, " >/dev/null 2>&1");
  if (std::system(cmd.c_str()) != 0) return std::nullopt;
  c.cert = ::otlpd::testing::ReadFileOrEmpty(c.cert_file);
  c.key = ::otlpd::testing::ReadFileOrEmpty(c.key_file);
  if (c.cert.empty() || c.key.empty()) return std::nullopt;
  return c;
}

std::unique_ptr<Upstream> StartTlsUpstream(const Certs& certs) {
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({certs.key, certs.cert});
  return Upstream::Start(0, grpc::SslServerCredentials(options));
}

TEST_F(OtlpExporterTest, TlsWithCaFile) {
  ::otlpd::testing::TempDir dir;
  std::optional<Certs> certs = MakeCerts(dir);
  ASSERT_TRUE(certs) << "openssl could not make a certificate";
  auto up = StartTlsUpstream(*certs);
  ASSERT_NE(up, nullptr);
  auto exporter =
      MakeExporter(absl::StrCat("endpoint: https://127.0.0.1:", up->port(),
                                "\ntls: {ca_file: ", certs->cert_file, "}\n", FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  exporter->Consume(MakeTraces("secure"), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 1; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
}

TEST_F(OtlpExporterTest, TlsSkipVerifyAcceptsUnknownCertificate) {
  ::otlpd::testing::TempDir dir;
  std::optional<Certs> certs = MakeCerts(dir);
  ASSERT_TRUE(certs) << "openssl could not make a certificate";
  auto up = StartTlsUpstream(*certs);
  ASSERT_NE(up, nullptr);
  auto exporter =
      MakeExporter(absl::StrCat("endpoint: 127.0.0.1:", up->port(),
                                "\ntls: {insecure_skip_verify: true}\n", FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  exporter->Consume(MakeTraces("secure"), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 1; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
}

TEST_F(OtlpExporterTest, TlsRejectsUntrustedCertificate) {
  ::otlpd::testing::TempDir dir;
  std::optional<Certs> certs = MakeCerts(dir);
  ASSERT_TRUE(certs) << "openssl could not make a certificate";
  auto up = StartTlsUpstream(*certs);
  ASSERT_NE(up, nullptr);
  // Default roots do not include our self-signed certificate.
  auto exporter = MakeExporter(absl::StrCat("endpoint: 127.0.0.1:", up->port(), R"(
retry_on_failure: {initial_interval: 10ms, max_interval: 50ms, max_elapsed_time: 300ms}
)"));
  ASSERT_NE(exporter, nullptr);
  exporter->Consume(MakeTraces("secure", 2), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return Counter("otelcol_exporter_send_failed_spans") == 2; },
                        absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(up->received_count(), 0u);
}

TEST_F(OtlpExporterTest, StartFailsOnMissingCaFile) {
  parsed_ = ParseYaml("endpoint: 127.0.0.1:4317\ntls: {ca_file: /nonexistent/ca.pem}\n");
  ASSERT_TRUE(parsed_->diag.ok()) << parsed_->diag.Format();
  auto exporter = NewOtlpExporterFactory()->Create({{"otlp", ""}, &host_}, *parsed_->config);
  ASSERT_TRUE(exporter.ok());
  absl::Status started = (*exporter)->Start();
  EXPECT_FALSE(started.ok());
  EXPECT_NE(started.message().find("/nonexistent/ca.pem"), std::string::npos) << started;
  (*exporter)->Shutdown(absl::Now() + absl::Seconds(1));
}

// A client authenticator extension whose headers are credentials (as bearertokenauth's).
class CredentialsExtension : public Extension, public ClientAuthenticator {
 public:
  absl::StatusOr<Metadata> Headers(const Metadata*) const override {
    return Metadata{{"authorization", "Bearer t"}};
  }
  bool RequiresTransportSecurity() const override { return true; }
};

TEST_F(OtlpExporterTest, CredentialsNeverGoOverAPlaintextChannel) {
  host_.extensions[{"bearertokenauth", ""}] = std::make_shared<CredentialsExtension>();
  parsed_ = ParseYaml(
      "endpoint: 127.0.0.1:4317\ntls: {insecure: true}\nauth: {authenticator: bearertokenauth}\n");
  ASSERT_TRUE(parsed_->diag.ok()) << parsed_->diag.Format();
  auto exporter = NewOtlpExporterFactory()->Create({{"otlp", ""}, &host_}, *parsed_->config);
  ASSERT_TRUE(exporter.ok());
  absl::Status started = (*exporter)->Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition) << started;
  EXPECT_NE(started.message().find("need a TLS connection"), std::string::npos) << started;
  (*exporter)->Shutdown(absl::Now() + absl::Seconds(1));
}

// --- status mapping -----------------------------------------------------------------

TEST(FromGrpcStatusTest, MapsRetryableCodesAndRetryInfo) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  for (grpc::StatusCode code : {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED,
                                grpc::StatusCode::ABORTED, grpc::StatusCode::CANCELLED,
                                grpc::StatusCode::OUT_OF_RANGE, grpc::StatusCode::DATA_LOSS}) {
    absl::Status s = FromGrpcStatus(grpc::Status(code, "x"));
    EXPECT_TRUE(IsRetryable(s)) << s;
    EXPECT_EQ(static_cast<int>(s.code()), static_cast<int>(code));
    EXPECT_FALSE(RetryAfter(s).has_value());
  }
  for (grpc::StatusCode code :
       {grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::UNAUTHENTICATED,
        grpc::StatusCode::PERMISSION_DENIED, grpc::StatusCode::UNIMPLEMENTED,
        grpc::StatusCode::INTERNAL, grpc::StatusCode::RESOURCE_EXHAUSTED}) {
    EXPECT_FALSE(IsRetryable(FromGrpcStatus(grpc::Status(code, "x")))) << code;
  }
  google::rpc::RetryInfo info;
  info.mutable_retry_delay()->set_seconds(2);
  info.mutable_retry_delay()->set_nanos(500000000);
  google::rpc::Status details;
  details.set_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
  details.add_details()->PackFrom(info);
  absl::Status s = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "busy", details.SerializeAsString()));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(IsRetryable(s));
  EXPECT_EQ(RetryAfter(s), absl::Milliseconds(2500));
}

// --- config ---------------------------------------------------------------------

TEST(OtlpExporterConfigTest, DefaultsAndSchemeStripping) {
  auto p = ParseYaml("endpoint: http://collector.example:4317/\n");
  ASSERT_TRUE(p->diag.ok()) << p->diag.Format();
  const auto& cfg = ConfigAs<OtlpExporterConfig>(*p->config);
  EXPECT_EQ(cfg.endpoint, "collector.example:4317");
  EXPECT_FALSE(cfg.https_scheme);
  EXPECT_FALSE(cfg.tls.insecure);
  EXPECT_EQ(cfg.compression, Compression::kGzip);
  EXPECT_EQ(cfg.helper.timeout, absl::Seconds(5));
  EXPECT_TRUE(cfg.helper.queue.enabled);
  EXPECT_EQ(cfg.helper.queue.queue_size, 1000);
  EXPECT_EQ(cfg.helper.retry.initial_interval, absl::Seconds(5));

  auto https = ParseYaml("endpoint: https://[::1]:4317\n");
  ASSERT_TRUE(https->diag.ok()) << https->diag.Format();
  EXPECT_EQ(ConfigAs<OtlpExporterConfig>(*https->config).endpoint, "[::1]:4317");
  EXPECT_TRUE(ConfigAs<OtlpExporterConfig>(*https->config).https_scheme);
}

TEST(OtlpExporterConfigTest, ParsesEveryKey) {
  auto p = ParseYaml(R"(
endpoint: localhost:4317
tls:
  insecure: false
  insecure_skip_verify: true
  ca_file: /etc/ca.pem
  cert_file: /etc/c.pem
  key_file: /etc/k.pem
  server_name_override: upstream.internal
compression: none
timeout: 2s
headers: {Api-Key: "k1"}
balancer_name: round_robin
keepalive: {time: 30s, timeout: 5s, permit_without_stream: true}
wait_for_ready: true
sending_queue: {enabled: true, num_consumers: 3, queue_size: 7}
retry_on_failure: {enabled: false}
)");
  ASSERT_TRUE(p->diag.ok()) << p->diag.Format();
  const auto& cfg = ConfigAs<OtlpExporterConfig>(*p->config);
  EXPECT_TRUE(cfg.tls.insecure_skip_verify);
  EXPECT_EQ(cfg.tls.ca_file, "/etc/ca.pem");
  EXPECT_EQ(cfg.tls.server_name_override, "upstream.internal");
  EXPECT_EQ(cfg.compression, Compression::kNone);
  EXPECT_EQ(cfg.helper.timeout, absl::Seconds(2));
  ASSERT_EQ(cfg.headers.size(), 1u);
  EXPECT_EQ(cfg.headers[0].first, "api-key");
  EXPECT_EQ(cfg.balancer_name, "round_robin");
  EXPECT_EQ(cfg.keepalive.time, absl::Seconds(30));
  EXPECT_TRUE(cfg.keepalive.permit_without_stream);
  EXPECT_TRUE(cfg.wait_for_ready);
  EXPECT_EQ(cfg.helper.queue.num_consumers, 3);
  EXPECT_EQ(cfg.helper.queue.queue_size, 7);
  EXPECT_FALSE(cfg.helper.retry.enabled);
}

TEST(OtlpExporterConfigTest, ReportsBadConfig) {
  struct Case {
    std::string yaml;
    std::string error;
  } cases[] = {
      {"tls: {insecure: true}\n", "exporters::otlp::endpoint: requires a non-empty \"endpoint\""},
      {"endpoint: localhost\n", "invalid endpoint \"localhost\": expected host:port"},
      {"endpoint: localhost:99999\n", "invalid endpoint"},
      {"endpoint: localhost:4317\ncompression: zstd\n",
       "zstd compression is not supported by the gRPC exporter; use gzip or none"},
      {"endpoint: localhost:4317\ncompression: brotli\n", "unsupported compression \"brotli\""},
      {"endpoint: localhost:4317\nendpont: x\n", "exporters::otlp::endpont: unknown key"},
      {"endpoint: localhost:4317\ntls: {insecure: yes please}\n", "tls::insecure"},
      {"endpoint: localhost:4317\ntls: {cert_file: /a.pem}\n",
       "TLS configuration must include both certificate and key"},
      {"endpoint: localhost:4317\ntimeout: soon\n", "exporters::otlp::timeout"},
      {"endpoint: localhost:4317\nsending_queue: {queue_size: 0}\n",
       "`queue_size` must be positive"},
      {"endpoint: localhost:4317\nretry_on_failure: {multiplier: 0.5}\n",
       "multiplier must be at least 1"},
      {"endpoint: localhost:4317\nbalancer_name: random\n", "balancer_name"},
  };
  for (const Case& c : cases) {
    auto p = ParseYaml(c.yaml);
    EXPECT_FALSE(p->diag.ok()) << c.yaml;
    EXPECT_NE(p->diag.Format().find(c.error), std::string::npos) << c.yaml << " gave:\n"
                                                                 << p->diag.Format();
  }
}

}  // namespace
}  // namespace otlpd
