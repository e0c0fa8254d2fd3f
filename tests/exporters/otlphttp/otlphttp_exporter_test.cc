#include "exporters/otlphttp/otlphttp_exporter.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/compression.h"
#include "core/http_server.h"
#include "core/otlp_json.h"
#include "core/status.h"
#include "exporters/otlphttp/config.h"
#include "exporters/otlphttp/factory.h"
#include "google/rpc/status.pb.h"
#include "testing/ports.h"
#include "testing/test_host.h"
#include "testing/wait.h"

namespace otlpd {
namespace {

using ::otlpd::testing::WaitUntil;

using otlpd::testing::TestHost;

// --- the upstream: a real HTTP server ----------------------------------------------

struct Received {
  std::string path;
  std::map<std::string, std::string> headers;
  std::string wire_body;  // as sent (compressed)
  std::string body;       // decompressed
};

// An OTLP/HTTP upstream on core's HttpServer that records requests and answers with
// scripted responses first, then 200.
class Upstream {
 public:
  static std::unique_ptr<Upstream> Start(int port = 0) {
    auto up = std::unique_ptr<Upstream>(new Upstream());
    HttpServerOptions options;
    options.endpoint = absl::StrCat("127.0.0.1:", port);
    options.threads = 2;
    Upstream* raw = up.get();
    absl::StatusOr<std::unique_ptr<HttpServer>> server =
        HttpServer::Start(options, [raw](HttpRequest&& req, HttpRespond respond) {
          raw->Handle(std::move(req), std::move(respond));
        });
    if (!server.ok()) return nullptr;
    up->server_ = *std::move(server);
    return up;
  }
  ~Upstream() { Stop(); }
  void Stop() {
    if (server_) server_->Stop();
  }

  int port() const { return server_->port(); }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port()); }

  void Script(HttpResponse response, int times = 1) {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < times; ++i) script_.push_back(response);
  }
  // Requests get no answer (until the server stops).
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
  Upstream() = default;

  void Handle(HttpRequest&& req, HttpRespond respond) {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (hang_) {
      held_.push_back(std::move(respond));
      return;
    }
    if (!script_.empty()) {
      HttpResponse r = std::move(script_.front());
      script_.pop_front();
      std::move(respond)(std::move(r));
      return;
    }
    Received r;
    r.path = req.path;
    for (const auto& [name, value] : req.headers) r.headers[name] = value;
    r.wire_body = std::string(req.body);
    const std::string* encoding = req.Header("content-encoding");
    std::optional<Compression> c = ParseCompression(encoding ? *encoding : "");
    absl::StatusOr<std::string> body =
        c ? Decompress(*c, r.wire_body, 64 << 20) : absl::InvalidArgumentError("encoding");
    if (!body.ok()) {
      std::move(respond)(HttpResponse{400, {}, "cannot decompress"});
      return;
    }
    r.body = *std::move(body);
    received_.push_back(std::move(r));
    std::move(respond)(HttpResponse{200, {{"Content-Type", "application/x-protobuf"}}, ""});
  }

  mutable absl::Mutex mu_;
  std::deque<HttpResponse> script_ ABSL_GUARDED_BY(mu_);
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
  std::vector<HttpRespond> held_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool hang_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<HttpServer> server_;
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
    span->set_trace_id(std::string(16, '\xab'));
    span->set_span_id(std::string(8, static_cast<char>(i + 1)));
    span->set_start_time_unix_nano(1700000000000000000ull + i);
  }
  return t;
}

TelemetryPtr MakeMetrics(const std::string& name, int points) {
  auto t = std::make_shared<Telemetry>(Signal::kMetrics);
  auto* metric = t->mutable_metrics()->add_resource_metrics()->add_scope_metrics()->add_metrics();
  metric->set_name(name);
  for (int i = 0; i < points; ++i) metric->mutable_sum()->add_data_points()->set_as_double(i);
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
  TracesRequest req;
  EXPECT_TRUE(req.ParseFromString(r.body));
  if (req.resource_spans_size() == 0) return "";
  return req.resource_spans(0).scope_spans(0).spans(0).name();
}

// --- exporter set-up -------------------------------------------------------------

struct Parsed {
  Diagnostics diag;
  std::unique_ptr<ComponentConfig> config;
};

std::unique_ptr<Parsed> ParseYaml(const std::string& yaml) {
  auto p = std::make_unique<Parsed>();
  ConfigNode root(YAML::Load(yaml), "exporters::otlphttp", &p->diag);
  p->config = NewOtlpHttpExporterFactory()->ParseConfig(root);
  root.ReportUnknownKeys();
  return p;
}

std::string FastRetryYaml(int consumers = 1) {
  return absl::StrCat("sending_queue: {num_consumers: ", consumers, R"(, queue_size: 100}
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

class OtlpHttpExporterTest : public ::testing::Test {
 protected:
  std::unique_ptr<Exporter> MakeExporter(const std::string& yaml,
                                         const std::string& name = "upstream") {
    parsed_ = ParseYaml(yaml);
    EXPECT_TRUE(parsed_->diag.ok()) << parsed_->diag.Format();
    if (!parsed_->diag.ok()) return nullptr;
    id_ = {"otlphttp", name};
    absl::StatusOr<std::unique_ptr<Exporter>> exporter =
        NewOtlpHttpExporterFactory()->Create({id_, &host_}, *parsed_->config);
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

TEST_F(OtlpHttpExporterTest, DeliversAllSignalsAsGzippedProtobuf) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  auto exporter = MakeExporter(absl::StrCat("endpoint: ", up->url(), R"(
headers: {X-Tenant: acme}
)",
                                            FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  TelemetryPtr traces = MakeTraces("checkout", 3);
  TelemetryPtr metrics = MakeMetrics("requests", 4);
  TelemetryPtr logs = MakeLogs("hello", 5);
  exporter->Consume(traces, done_.Done());
  exporter->Consume(metrics, done_.Done());
  exporter->Consume(logs, done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 3; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));

  std::map<std::string, Received> by_path;
  for (Received& r : up->received()) by_path[r.path] = r;
  ASSERT_EQ(by_path.size(), 3u);
  EXPECT_EQ(by_path["/v1/traces"].body, traces->message().SerializeAsString());
  EXPECT_EQ(by_path["/v1/metrics"].body, metrics->message().SerializeAsString());
  EXPECT_EQ(by_path["/v1/logs"].body, logs->message().SerializeAsString());
  for (auto& [path, r] : by_path) {
    EXPECT_EQ(r.headers["content-type"], "application/x-protobuf") << path;
    EXPECT_EQ(r.headers["content-encoding"], "gzip") << path;
    EXPECT_EQ(r.wire_body.substr(0, 2), "\x1f\x8b") << path;  // gzip magic
    EXPECT_EQ(r.headers["x-tenant"], "acme") << path;
    EXPECT_TRUE(absl::StartsWith(r.headers["user-agent"], "otlpd/")) << r.headers["user-agent"];
  }
  ASSERT_EQ(done_.size(), 3u);
  for (const absl::Status& s : done_.statuses) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 3u);
  EXPECT_EQ(Counter("otelcol_exporter_sent_metric_points"), 4u);
  EXPECT_EQ(Counter("otelcol_exporter_sent_log_records"), 5u);
}

TEST_F(OtlpHttpExporterTest, JsonEncoding) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  auto exporter = MakeExporter(absl::StrCat(
      "endpoint: ", up->url(), "\nencoding: json\ncompression: none\n", FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  TelemetryPtr traces = MakeTraces("json-span", 2);
  TelemetryPtr logs = MakeLogs("json-log", 2);
  exporter->Consume(traces, done_.Done());
  exporter->Consume(logs, done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 2; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  for (Received& r : up->received()) {
    EXPECT_EQ(r.headers["content-type"], "application/json");
    EXPECT_EQ(r.headers.count("content-encoding"), 0u);
    EXPECT_EQ(r.wire_body, r.body);
    if (r.path == "/v1/traces") {
      // OTLP/JSON: hex ids, camelCase keys.
      EXPECT_NE(r.body.find("\"traceId\":\"abababababababababababababababab\""), std::string::npos)
          << r.body;
      TracesRequest decoded;
      ASSERT_TRUE(DecodeOtlpJson(r.body, &decoded).ok()) << r.body;
      EXPECT_EQ(decoded.SerializeAsString(), traces->message().SerializeAsString());
    } else {
      ASSERT_EQ(r.path, "/v1/logs");
      LogsRequest decoded;
      ASSERT_TRUE(DecodeOtlpJson(r.body, &decoded).ok()) << r.body;
      EXPECT_EQ(decoded.SerializeAsString(), logs->message().SerializeAsString());
    }
  }
}

TEST_F(OtlpHttpExporterTest, ZstdAndDeflateBodiesDecompress) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  for (const std::string compression : {"zstd", "deflate", "snappy"}) {
    auto exporter =
        MakeExporter(absl::StrCat("endpoint: ", up->url(), "\ncompression: ", compression, "\n",
                                  FastRetryYaml()),
                     compression);
    ASSERT_NE(exporter, nullptr);
    TelemetryPtr traces = MakeTraces(std::string(500, 'q'), 20);
    const size_t before = up->received_count();
    exporter->Consume(traces, done_.Done());
    ASSERT_TRUE(WaitUntil([&] { return up->received_count() == before + 1; }, absl::Seconds(10)))
        << compression;
    exporter->Shutdown(absl::Now() + absl::Seconds(5));
    Received r = up->received().back();
    EXPECT_EQ(r.headers["content-encoding"], compression);
    EXPECT_EQ(r.body, traces->message().SerializeAsString()) << compression;
    EXPECT_LT(r.wire_body.size(), r.body.size() / 4) << compression;
    if (compression == "zstd") {
      EXPECT_EQ(r.wire_body.substr(0, 4), "\x28\xb5\x2f\xfd");
    }
  }
}

TEST_F(OtlpHttpExporterTest, RetriesOn503WithRetryAfterAndDeliversOnce) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  // A backoff of 10s: only Retry-After (1s) lets this finish in time.
  auto exporter = MakeExporter(absl::StrCat("endpoint: ", up->url(), R"(
sending_queue: {num_consumers: 1}
retry_on_failure: {initial_interval: 10s, max_interval: 10s, randomization_factor: 0}
)"));
  ASSERT_NE(exporter, nullptr);
  up->Script(HttpResponse{503, {{"Retry-After", "1"}}, "overloaded"});
  const absl::Time start = absl::Now();
  for (int i = 0; i < 4; ++i) exporter->Consume(MakeTraces(absl::StrCat("b", i), 2), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 4; }, absl::Seconds(8)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(950));
  EXPECT_LT(took, absl::Seconds(5));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  std::vector<Received> got = up->received();
  ASSERT_EQ(got.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(SpanName(got[i]), absl::StrCat("b", i));
  EXPECT_EQ(up->calls(), 5);
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 8u);
  EXPECT_EQ(Counter("otelcol_exporter_send_failed_spans"), 0u);
}

TEST_F(OtlpHttpExporterTest, RetriesThrottlingAndGatewayErrors) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  auto exporter = MakeExporter(absl::StrCat("endpoint: ", up->url(), "\n", FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  up->Script(HttpResponse{429, {}, ""});
  up->Script(HttpResponse{502, {}, ""});
  up->Script(HttpResponse{504, {}, ""});
  exporter->Consume(MakeLogs("l", 3), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 1; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(up->calls(), 4);
  EXPECT_EQ(Counter("otelcol_exporter_sent_log_records"), 3u);
}

TEST_F(OtlpHttpExporterTest, ClientErrorsArePermanent) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  auto exporter = MakeExporter(absl::StrCat("endpoint: ", up->url(), "\n", FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  google::rpc::Status rejection;
  rejection.set_code(3);
  rejection.set_message("span is malformed");
  up->Script(HttpResponse{
      400, {{"Content-Type", "application/x-protobuf"}}, rejection.SerializeAsString()});
  up->Script(HttpResponse{500, {}, "boom"});
  exporter->Consume(MakeTraces("rejected", 4), done_.Done());
  exporter->Consume(MakeTraces("server-error", 2), done_.Done());
  exporter->Consume(MakeTraces("accepted", 1), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 1; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(up->calls(), 3);  // nothing retried
  EXPECT_EQ(SpanName(up->received()[0]), "accepted");
  EXPECT_EQ(Counter("otelcol_exporter_send_failed_spans"), 6u);
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 1u);
}

TEST_F(OtlpHttpExporterTest, QueueDisabledReportsTheUpstreamError) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  auto exporter = MakeExporter(absl::StrCat("endpoint: ", up->url(), R"(
sending_queue: {enabled: false, num_consumers: 1}
)"));
  ASSERT_NE(exporter, nullptr);
  google::rpc::Status rejection;
  rejection.set_message("span is malformed");
  up->Script(HttpResponse{
      400, {{"Content-Type", "application/x-protobuf"}}, rejection.SerializeAsString()});
  exporter->Consume(MakeTraces("rejected"), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return done_.size() == 1; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  absl::Status s = done_.statuses[0];
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("span is malformed"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("400"), absl::string_view::npos) << s;
}

TEST_F(OtlpHttpExporterTest, DeliversOnceUpstreamComesUp) {
  const int port = ::otlpd::testing::FreePort();
  auto exporter =
      MakeExporter(absl::StrCat("endpoint: http://127.0.0.1:", port, "\n", FastRetryYaml(2)));
  ASSERT_NE(exporter, nullptr);
  exporter->Consume(MakeTraces("early", 2), done_.Done());
  exporter->Consume(MakeMetrics("early", 3), done_.Done());
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 0u);
  EXPECT_EQ(Counter("otelcol_exporter_send_failed_spans"), 0u);
  auto up = Upstream::Start(port);
  ASSERT_NE(up, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 2; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(up->received_count(), 2u);
  EXPECT_EQ(Counter("otelcol_exporter_sent_spans"), 2u);
  EXPECT_EQ(Counter("otelcol_exporter_sent_metric_points"), 3u);
}

TEST_F(OtlpHttpExporterTest, ShutdownInterruptsRequestInFlight) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  up->Hang();
  auto exporter =
      MakeExporter(absl::StrCat("endpoint: ", up->url(), "\ntimeout: 60s\n", FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  exporter->Consume(MakeTraces("stuck", 2), done_.Done());
  exporter->Consume(MakeTraces("queued", 3), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->calls() == 1; }, absl::Seconds(10)));
  const absl::Time start = absl::Now();
  exporter->Shutdown(start + absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_EQ(Counter("otelcol_exporter_send_failed_spans"), 5u);
  up->Stop();
}

TEST_F(OtlpHttpExporterTest, TimeoutIsRetried) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  up->Hang();
  auto exporter = MakeExporter(absl::StrCat("endpoint: ", up->url(), R"(
timeout: 100ms
retry_on_failure: {initial_interval: 10ms, max_interval: 10ms, max_elapsed_time: 250ms}
)"));
  ASSERT_NE(exporter, nullptr);
  exporter->Consume(MakeTraces("slow", 2), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return Counter("otelcol_exporter_send_failed_spans") == 2; },
                        absl::Seconds(10)));
  EXPECT_GE(up->calls(), 2);  // timed out, retried, gave up at max_elapsed_time
  exporter->Shutdown(absl::Now() + absl::Seconds(2));
  up->Stop();
}

TEST_F(OtlpHttpExporterTest, PerSignalEndpointOverridesBase) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  auto exporter =
      MakeExporter(absl::StrCat("endpoint: ", up->url(), "/base/\ntraces_endpoint: ", up->url(),
                                "/custom/spans\n", FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  exporter->Consume(MakeTraces("t"), done_.Done());
  exporter->Consume(MakeLogs("l", 1), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 2; }, absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  std::vector<std::string> paths;
  for (const Received& r : up->received()) paths.push_back(r.path);
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(paths, (std::vector<std::string>{"/base/v1/logs", "/custom/spans"}));
}

TEST_F(OtlpHttpExporterTest, SignalWithoutEndpointIsDropped) {
  auto up = Upstream::Start();
  ASSERT_NE(up, nullptr);
  auto exporter =
      MakeExporter(absl::StrCat("logs_endpoint: ", up->url(), "/v1/logs\n", FastRetryYaml()));
  ASSERT_NE(exporter, nullptr);
  exporter->Consume(MakeTraces("t", 2), done_.Done());
  exporter->Consume(MakeLogs("l", 1), done_.Done());
  ASSERT_TRUE(WaitUntil([&] { return up->received_count() == 1; }, absl::Seconds(10)));
  ASSERT_TRUE(WaitUntil([&] { return Counter("otelcol_exporter_send_failed_spans") == 2; },
                        absl::Seconds(10)));
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(up->received()[0].path, "/v1/logs");
}

// --- helpers and config --------------------------------------------------------------

TEST(ParseRetryAfterTest, SecondsAndHttpDate) {
  const absl::Time now = absl::FromUnixSeconds(1445412400);  // Wed, 21 Oct 2015 07:26:40 GMT
  EXPECT_EQ(ParseRetryAfter("7", now), absl::Seconds(7));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now), absl::Seconds(80));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now), absl::ZeroDuration());
  EXPECT_FALSE(ParseRetryAfter("", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("-5", now).has_value());
}

TEST(OtlpHttpExporterConfigTest, Defaults) {
  auto p = ParseYaml("endpoint: https://otlp.example.com:4318/\n");
  ASSERT_TRUE(p->diag.ok()) << p->diag.Format();
  const auto& cfg = ConfigAs<OtlpHttpExporterConfig>(*p->config);
  EXPECT_EQ(cfg.UrlFor(Signal::kTraces), "https://otlp.example.com:4318/v1/traces");
  EXPECT_EQ(cfg.UrlFor(Signal::kMetrics), "https://otlp.example.com:4318/v1/metrics");
  EXPECT_EQ(cfg.UrlFor(Signal::kLogs), "https://otlp.example.com:4318/v1/logs");
  EXPECT_EQ(cfg.encoding, OtlpHttpEncoding::kProto);
  EXPECT_EQ(cfg.compression, Compression::kGzip);
  EXPECT_EQ(cfg.helper.timeout, absl::Seconds(30));
  EXPECT_TRUE(cfg.helper.queue.enabled);
  EXPECT_TRUE(cfg.helper.retry.enabled);
}

TEST(OtlpHttpExporterConfigTest, ParsesEveryKey) {
  auto p = ParseYaml(R"(
endpoint: http://localhost:4318
metrics_endpoint: http://metrics.local/ingest
encoding: json
compression: zstd
timeout: 3s
headers: {Authorization: "Bearer x"}
tls: {insecure: true, insecure_skip_verify: true, ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem}
sending_queue: {num_consumers: 2, queue_size: 9}
retry_on_failure: {max_elapsed_time: 1m}
)");
  ASSERT_TRUE(p->diag.ok()) << p->diag.Format();
  const auto& cfg = ConfigAs<OtlpHttpExporterConfig>(*p->config);
  EXPECT_EQ(cfg.UrlFor(Signal::kMetrics), "http://metrics.local/ingest");
  EXPECT_EQ(cfg.UrlFor(Signal::kTraces), "http://localhost:4318/v1/traces");
  EXPECT_EQ(cfg.encoding, OtlpHttpEncoding::kJson);
  EXPECT_EQ(cfg.compression, Compression::kZstd);
  EXPECT_EQ(cfg.helper.timeout, absl::Seconds(3));
  ASSERT_EQ(cfg.headers.size(), 1u);
  EXPECT_EQ(cfg.headers[0].second, "Bearer x");
  EXPECT_TRUE(cfg.tls.insecure_skip_verify);
  EXPECT_EQ(cfg.tls.ca_file, "/ca.pem");
  EXPECT_EQ(cfg.helper.queue.queue_size, 9);
  EXPECT_EQ(cfg.helper.retry.max_elapsed_time, absl::Minutes(1));
}

TEST(OtlpHttpExporterConfigTest, ReportsBadConfig) {
  struct Case {
    std::string yaml;
    std::string error;
  } cases[] = {
      {"compression: gzip\n", "at least one endpoint must be specified"},
      {"endpoint: localhost:4318\n", "invalid URL \"localhost:4318\""},
      {"endpoint: http://:4318\n", "invalid URL"},
      {"endpoint: http://host:70000\n", "invalid URL"},
      {"endpoint: http://h:4318\ntraces_endpoint: ftp://h/x\n", "traces_endpoint: invalid URL"},
      {"endpoint: http://h:4318\ncompression: brotli\n", "unsupported compression \"brotli\""},
      {"endpoint: http://h:4318\nencoding: xml\n", "invalid value \"xml\""},
      {"endpoint: http://h:4318\nendpont: x\n", "exporters::otlphttp::endpont: unknown key"},
      {"endpoint: http://h:4318\ntls: {verify: false}\n", "tls::verify: unknown key"},
      {"endpoint: https://h:4318\ntls: {key_file: /k.pem}\n",
       "TLS configuration must include both certificate and key"},
      {"endpoint: http://h:4318\ntimeout: 5\n", "exporters::otlphttp::timeout"},
      {"endpoint: http://h:4318\nsending_queue: {num_consumers: -1}\n",
       "`num_consumers` must be positive"},
      {"endpoint: https://h:4318\ntls: {insecure: true}\n",
       "tls::insecure: insecure: true cannot turn off TLS for an https:// endpoint"},
      {"endpoint: http://h:4318\nretry_on_failure: {randomization_factor: 2}\n",
       "randomization_factor must be between 0 and 1"},
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
