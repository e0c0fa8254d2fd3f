// End to end through the real daemon: OTLP over gRPC and HTTP (protobuf and JSON, plain and
// gzip) for all three signals into file exporters, and the OTLP/HTTP error answers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/otlp_json.h"
#include "google/rpc/status.pb.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"

namespace otlpd::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

enum class Transport { kGrpc, kGrpcGzip, kHttpProto, kHttpProtoGzip, kHttpJson, kHttpJsonGzip };

std::string TransportName(Transport t) {
  switch (t) {
    case Transport::kGrpc:
      return "Grpc";
    case Transport::kGrpcGzip:
      return "GrpcGzip";
    case Transport::kHttpProto:
      return "HttpProto";
    case Transport::kHttpProtoGzip:
      return "HttpProtoGzip";
    case Transport::kHttpJson:
      return "HttpJson";
    case Transport::kHttpJsonGzip:
      return "HttpJsonGzip";
  }
  return "";
}

std::string HttpPath(Signal s) { return std::string("/v1/") + std::string(SignalName(s)); }

class ReceiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vars_ = PortVars();
    ASSERT_TRUE(daemon_.StartWithConfig(FileSinkConfig(), vars_).ok());
    ASSERT_TRUE(daemon_.WaitForPort(PortOf(vars_, "GRPC_PORT"))) << daemon_.Stderr();
    ASSERT_TRUE(daemon_.WaitForPort(PortOf(vars_, "HTTP_PORT"))) << daemon_.Stderr();
  }

  void TearDown() override {
    int status = daemon_.Stop();
    EXPECT_EQ(status, 0) << "daemon did not exit cleanly on SIGTERM\n" << daemon_.Stderr();
  }

  int grpc_port() const { return PortOf(vars_, "GRPC_PORT"); }
  int http_port() const { return PortOf(vars_, "HTTP_PORT"); }
  std::string Sink(Signal s) const { return daemon_.File(SinkFileName(s)); }

  // Sends `request` over `transport` and checks the success answer.
  template <class Request, class Response>
  void Send(const Request& request, Signal signal, Transport transport) {
    SCOPED_TRACE(TransportName(transport));
    switch (transport) {
      case Transport::kGrpc:
      case Transport::kGrpcGzip: {
        OtlpGrpcClient client(grpc_port());
        Response response;
        GrpcCallOptions options;
        options.gzip = transport == Transport::kGrpcGzip;
        grpc::Status status = client.Export(request, &response, options);
        ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message() << "\n"
                                 << daemon_.Stderr();
        EXPECT_FALSE(response.has_partial_success()) << response.DebugString();
        return;
      }
      case Transport::kHttpProto:
      case Transport::kHttpProtoGzip: {
        std::string body = request.SerializeAsString();
        std::vector<std::string> headers = {"Content-Type: application/x-protobuf"};
        if (transport == Transport::kHttpProtoGzip) {
          body = Gzip(body);
          headers.push_back("Content-Encoding: gzip");
        }
        HttpResult r = HttpPost(LocalUrl(http_port(), HttpPath(signal)), body, headers);
        ASSERT_EQ(r.status, 200) << r.error << " " << r.body << "\n" << daemon_.Stderr();
        ASSERT_NE(r.Header("content-type"), nullptr);
        EXPECT_THAT(*r.Header("content-type"), StartsWith("application/x-protobuf"));
        Response response;
        ASSERT_TRUE(response.ParseFromString(r.body));
        EXPECT_FALSE(response.has_partial_success()) << response.DebugString();
        return;
      }
      case Transport::kHttpJson:
      case Transport::kHttpJsonGzip: {
        std::string body = EncodeOtlpJson(request);
        std::vector<std::string> headers = {"Content-Type: application/json"};
        if (transport == Transport::kHttpJsonGzip) {
          body = Gzip(body);
          headers.push_back("Content-Encoding: gzip");
        }
        HttpResult r = HttpPost(LocalUrl(http_port(), HttpPath(signal)), body, headers);
        ASSERT_EQ(r.status, 200) << r.error << " " << r.body << "\n" << daemon_.Stderr();
        ASSERT_NE(r.Header("content-type"), nullptr);
        EXPECT_THAT(*r.Header("content-type"), StartsWith("application/json"));
        Response response;
        ASSERT_TRUE(DecodeOtlpJson(r.body, &response).ok()) << r.body;
        EXPECT_FALSE(response.has_partial_success()) << response.DebugString();
        return;
      }
    }
  }

  // Sends three distinct requests and checks the file exporter wrote exactly those, one per
  // line, in order.
  template <class Request, class Response>
  void RoundTrip(Signal signal, Transport transport, Request (*make)(const SampleOptions&)) {
    std::vector<Request> sent;
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      SampleOptions options;
      options.seed = seed * 100 + static_cast<uint64_t>(transport);
      options.resources = static_cast<int>(seed);
      options.scopes_per_resource = 2;
      options.items_per_scope = 5;
      sent.push_back(make(options));
      Send<Request, Response>(sent.back(), signal, transport);
      if (::testing::Test::HasFatalFailure()) return;
    }
    std::vector<std::string> lines = WaitForLines(Sink(signal), sent.size());
    ASSERT_EQ(lines.size(), sent.size()) << daemon_.Stderr();
    auto written = ReadFileExporterLines<Request>(Sink(signal));
    ASSERT_TRUE(written.ok()) << written.status();
    ASSERT_EQ(written->size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(ProtoDiff(sent[i], (*written)[i]), "") << "request " << i;
    }
    // The other signals' files stay empty.
    for (Signal other : kAllSignals) {
      if (other != signal) {
        EXPECT_TRUE(ReadCompleteLines(Sink(other)).empty());
      }
    }
  }

  std::map<std::string, std::string> vars_;
  DaemonProcess daemon_{"receive"};
};

class ReceiveTransportTest : public ReceiveTest, public ::testing::WithParamInterface<Transport> {};

TEST_P(ReceiveTransportTest, TracesArriveExactly) {
  RoundTrip<TracesRequest, TracesResponse>(Signal::kTraces, GetParam(), MakeTraces);
}

TEST_P(ReceiveTransportTest, MetricsArriveExactly) {
  RoundTrip<MetricsRequest, MetricsResponse>(Signal::kMetrics, GetParam(), MakeMetrics);
}

TEST_P(ReceiveTransportTest, LogsArriveExactly) {
  RoundTrip<LogsRequest, LogsResponse>(Signal::kLogs, GetParam(), MakeLogs);
}

INSTANTIATE_TEST_SUITE_P(AllTransports, ReceiveTransportTest,
                         ::testing::Values(Transport::kGrpc, Transport::kGrpcGzip,
                                           Transport::kHttpProto, Transport::kHttpProtoGzip,
                                           Transport::kHttpJson, Transport::kHttpJsonGzip),
                         [](const auto& info) { return TransportName(info.param); });

// OTLP/JSON as an SDK writes it (hex ids, camelCase, int64 as strings, enum names), decoded
// by the daemon independently of our own encoder.
TEST_F(ReceiveTest, HandWrittenJsonTraces) {
  constexpr char kJson[] = R"({"resourceSpans":[{"resource":{"attributes":[
    {"key":"service.name","value":{"stringValue":"json-svc"}}]},
    "scopeSpans":[{"scope":{"name":"manual","version":"1"},"spans":[{
      "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
      "parentSpanId":"eee19b7ec3c1b173","name":"server span","kind":2,
      "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000,
      "attributes":[{"key":"my.int","value":{"intValue":"42"}},
                    {"key":"my.double","value":{"doubleValue":1.5}},
                    {"key":"my.bool","value":{"boolValue":true}}],
      "status":{"code":"STATUS_CODE_ERROR","message":"bad"},
      "unknownFieldIsIgnored":{"x":[1,2,3]}}]}]}]})";
  HttpResult r = HttpPost(LocalUrl(http_port(), "/v1/traces"), kJson,
                          {"Content-Type: application/json; charset=utf-8"});
  ASSERT_EQ(r.status, 200) << r.body;

  TracesRequest expected;
  auto* rs = expected.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("json-svc");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("manual");
  ss->mutable_scope()->set_version("1");
  auto* span = ss->add_spans();
  span->set_trace_id(
      std::string("\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81\x3f\xc6\x0c", 16));
  span->set_span_id(std::string("\xee\xe1\x9b\x7e\xc3\xc1\xb1\x74", 8));
  span->set_parent_span_id(std::string("\xee\xe1\x9b\x7e\xc3\xc1\xb1\x73", 8));
  span->set_name("server span");
  span->set_kind(opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER);
  span->set_start_time_unix_nano(1544712660000000000ULL);
  span->set_end_time_unix_nano(1544712661000000000ULL);
  kv = span->add_attributes();
  kv->set_key("my.int");
  kv->mutable_value()->set_int_value(42);
  kv = span->add_attributes();
  kv->set_key("my.double");
  kv->mutable_value()->set_double_value(1.5);
  kv = span->add_attributes();
  kv->set_key("my.bool");
  kv->mutable_value()->set_bool_value(true);
  span->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  span->mutable_status()->set_message("bad");

  ASSERT_EQ(WaitForLines(Sink(Signal::kTraces), 1).size(), 1u);
  auto written = ReadTracesFile(Sink(Signal::kTraces));
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_EQ(written->size(), 1u);
  EXPECT_EQ(ProtoDiff(expected, (*written)[0]), "");
}

TEST_F(ReceiveTest, HandWrittenJsonMetricsAndLogs) {
  constexpr char kMetrics[] = R"({"resourceMetrics":[{"resource":{},"scopeMetrics":[{
    "metrics":[{"name":"requests","unit":"1","sum":{"aggregationTemporality":2,
      "isMonotonic":true,"dataPoints":[{"asInt":"17","timeUnixNano":"1000",
      "attributes":[{"key":"path","value":{"stringValue":"/x"}}]}]}}]}]}]})";
  HttpResult r =
      HttpPost(LocalUrl(http_port(), "/v1/metrics"), kMetrics, {"Content-Type: application/json"});
  ASSERT_EQ(r.status, 200) << r.body;
  constexpr char kLogs[] = R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{
    "timeUnixNano":"1700000000000000000","severityNumber":"SEVERITY_NUMBER_INFO",
    "severityText":"INFO","body":{"stringValue":"hello"},
    "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]})";
  r = HttpPost(LocalUrl(http_port(), "/v1/logs"), kLogs, {"Content-Type: application/json"});
  ASSERT_EQ(r.status, 200) << r.body;

  MetricsRequest expected_metrics;
  auto* rm = expected_metrics.add_resource_metrics();
  rm->mutable_resource();
  auto* metric = rm->add_scope_metrics()->add_metrics();
  metric->set_name("requests");
  metric->set_unit("1");
  auto* sum = metric->mutable_sum();
  sum->set_aggregation_temporality(
      opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  sum->set_is_monotonic(true);
  auto* point = sum->add_data_points();
  point->set_as_int(17);
  point->set_time_unix_nano(1000);
  auto* kv = point->add_attributes();
  kv->set_key("path");
  kv->mutable_value()->set_string_value("/x");

  LogsRequest expected_logs;
  auto* rec = expected_logs.add_resource_logs()->add_scope_logs()->add_log_records();
  rec->set_time_unix_nano(1700000000000000000ULL);
  rec->set_severity_number(opentelemetry::proto::logs::v1::SEVERITY_NUMBER_INFO);
  rec->set_severity_text("INFO");
  rec->mutable_body()->set_string_value("hello");
  rec->set_trace_id(
      std::string("\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81\x3f\xc6\x0c", 16));
  rec->set_span_id(std::string("\xee\xe1\x9b\x7e\xc3\xc1\xb1\x74", 8));

  ASSERT_EQ(WaitForLines(Sink(Signal::kMetrics), 1).size(), 1u);
  ASSERT_EQ(WaitForLines(Sink(Signal::kLogs), 1).size(), 1u);
  auto metrics = ReadMetricsFile(Sink(Signal::kMetrics));
  auto logs = ReadLogsFile(Sink(Signal::kLogs));
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_EQ(ProtoDiff(expected_metrics, metrics->at(0)), "");
  EXPECT_EQ(ProtoDiff(expected_logs, logs->at(0)), "");
}

// Many requests on one keep-alive connection, alternating encodings.
TEST_F(ReceiveTest, KeepAliveConnectionCarriesManyRequests) {
  HttpClient client;
  constexpr int kRequests = 50;
  for (int i = 0; i < kRequests; ++i) {
    SampleOptions options;
    options.seed = 1000 + i;
    options.rich = false;
    TracesRequest req = MakeTraces(options);
    bool json = i % 2 == 1;
    HttpResult r = client.Post(
        LocalUrl(http_port(), "/v1/traces"), json ? EncodeOtlpJson(req) : req.SerializeAsString(),
        {json ? "Content-Type: application/json" : "Content-Type: application/x-protobuf"});
    ASSERT_EQ(r.status, 200) << i << " " << r.error << " " << r.body;
  }
  EXPECT_EQ(WaitForItems(Signal::kTraces, Sink(Signal::kTraces), kRequests * 3), kRequests * 3);
  auto written = ReadTracesFile(Sink(Signal::kTraces));
  ASSERT_TRUE(written.ok());
  int duplicates = -1;
  EXPECT_EQ(TraceIds(*written, &duplicates).size(), static_cast<size_t>(kRequests * 3));
  EXPECT_EQ(duplicates, 0);
}

TEST_F(ReceiveTest, UnknownPathIs404) {
  HttpResult r = HttpPost(LocalUrl(http_port(), "/v1/unknown"), MakeTraces().SerializeAsString(),
                          {"Content-Type: application/x-protobuf"});
  EXPECT_EQ(r.status, 404) << r.error << " " << r.body;
  r = HttpPost(LocalUrl(http_port(), "/v2/traces"), "", {"Content-Type: application/x-protobuf"});
  EXPECT_EQ(r.status, 404) << r.error << " " << r.body;
}

TEST_F(ReceiveTest, WrongMethodIs405) {
  for (Signal s : kAllSignals) {
    HttpResult r = HttpGet(LocalUrl(http_port(), HttpPath(s)));
    EXPECT_EQ(r.status, 405) << SignalName(s) << " " << r.error << " " << r.body;
    HttpClient client;
    r = client.Request("PUT", LocalUrl(http_port(), HttpPath(s)), "x",
                       {"Content-Type: application/x-protobuf"});
    EXPECT_EQ(r.status, 405) << SignalName(s) << " " << r.error << " " << r.body;
  }
}

TEST_F(ReceiveTest, UnsupportedContentTypeIs415) {
  for (const char* type : {"Content-Type: text/plain", "Content-Type: application/xml"}) {
    HttpResult r = HttpPost(LocalUrl(http_port(), "/v1/traces"), "{}", {type});
    EXPECT_EQ(r.status, 415) << type << " " << r.error << " " << r.body;
  }
}

TEST_F(ReceiveTest, UndecodableProtobufIs400WithStatusBody) {
  const std::string garbage("\xff\xff\xff\xff\x0f\x0a\x05", 7);
  for (Signal s : kAllSignals) {
    HttpResult r = HttpPost(LocalUrl(http_port(), HttpPath(s)), garbage,
                            {"Content-Type: application/x-protobuf"});
    ASSERT_EQ(r.status, 400) << SignalName(s) << " " << r.error << " " << r.body;
    ASSERT_NE(r.Header("content-type"), nullptr);
    EXPECT_THAT(*r.Header("content-type"), StartsWith("application/x-protobuf"));
    google::rpc::Status status;
    ASSERT_TRUE(status.ParseFromString(r.body)) << r.body;
    EXPECT_EQ(status.code(), 3) << status.DebugString();  // INVALID_ARGUMENT
    EXPECT_FALSE(status.message().empty());
  }
  for (Signal s : kAllSignals) EXPECT_TRUE(ReadCompleteLines(Sink(s)).empty());
}

TEST_F(ReceiveTest, UndecodableJsonIs400WithJsonStatusBody) {
  for (const char* body : {"{not json", "[1,2", R"({"resourceSpans": 5})"}) {
    HttpResult r =
        HttpPost(LocalUrl(http_port(), "/v1/traces"), body, {"Content-Type: application/json"});
    ASSERT_EQ(r.status, 400) << body << " " << r.error << " " << r.body;
    ASSERT_NE(r.Header("content-type"), nullptr);
    EXPECT_THAT(*r.Header("content-type"), StartsWith("application/json"));
    google::rpc::Status status;
    ASSERT_TRUE(DecodeOtlpJson(r.body, &status).ok()) << r.body;
    EXPECT_EQ(status.code(), 3) << r.body;
    EXPECT_FALSE(status.message().empty()) << r.body;
  }
  EXPECT_TRUE(ReadCompleteLines(Sink(Signal::kTraces)).empty());
}

TEST_F(ReceiveTest, CorruptGzipIs400) {
  std::string body = Gzip(MakeTraces().SerializeAsString());
  body.resize(body.size() / 2);
  HttpResult r = HttpPost(LocalUrl(http_port(), "/v1/traces"), body,
                          {"Content-Type: application/x-protobuf", "Content-Encoding: gzip"});
  EXPECT_EQ(r.status, 400) << r.error << " " << r.body;
}

TEST_F(ReceiveTest, OversizedBodyIs413) {
  // Over the 20 MiB default limit of otelcol's HTTP server.
  std::string body(21 << 20, 'x');
  HttpResult r = HttpPost(LocalUrl(http_port(), "/v1/traces"), body,
                          {"Content-Type: application/x-protobuf"}, absl::Seconds(30));
  EXPECT_EQ(r.status, 413) << r.error << " " << r.body.substr(0, 200);
  // The daemon still serves afterwards.
  r = HttpPost(LocalUrl(http_port(), "/v1/traces"), MakeTraces().SerializeAsString(),
               {"Content-Type: application/x-protobuf"});
  EXPECT_EQ(r.status, 200) << r.error << " " << r.body;
}

TEST_F(ReceiveTest, GzipBombIsRefusedWithoutInflating) {
  // 200 MiB of zeros compress to ~200 KiB; inflating must stop at the body limit.
  std::string body = Gzip(std::string(200 << 20, '\0'));
  ASSERT_LT(body.size(), 1u << 20);
  long rss_before = daemon_.VmRssKib();
  HttpResult r = HttpPost(LocalUrl(http_port(), "/v1/traces"), body,
                          {"Content-Type: application/x-protobuf", "Content-Encoding: gzip"});
  EXPECT_TRUE(r.status == 400 || r.status == 413) << r.status << " " << r.error << " " << r.body;
  long hwm = daemon_.VmHwmKib();
  EXPECT_LT(hwm - rss_before, 150 * 1024) << "peak RSS grew by " << (hwm - rss_before) << " KiB";
  EXPECT_TRUE(daemon_.Running());
}

}  // namespace
}  // namespace otlpd::testing
