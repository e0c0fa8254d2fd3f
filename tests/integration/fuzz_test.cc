// Corrupted input over HTTP, gRPC and raw TCP: the daemon answers 200 or 400 (never 5xx,
// never a hang), stays healthy and keeps serving valid requests.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"
#include "testing/wait.h"

namespace otlpd::testing {
namespace {

// Deterministic corruption of a valid body.
std::string Corrupt(const std::string& body, std::mt19937_64& rng) {
  std::string out = body;
  auto pick = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  switch (rng() % 6) {
    case 0: {  // a few bit flips
      int flips = 1 + static_cast<int>(rng() % 8);
      for (int i = 0; i < flips && !out.empty(); ++i)
        out[pick(out.size())] ^= char(1 << (rng() % 8));
      break;
    }
    case 1:  // truncation
      out.resize(pick(out.size()));
      break;
    case 2: {  // overwrite a run with random bytes
      size_t start = pick(out.size());
      size_t len = 1 + pick(16);
      for (size_t i = start; i < out.size() && i < start + len; ++i)
        out[i] = static_cast<char>(rng());
      break;
    }
    case 3: {  // insert random bytes
      std::string junk(1 + pick(32), '\0');
      for (char& c : junk) c = static_cast<char>(rng());
      out.insert(pick(out.size() + 1), junk);
      break;
    }
    case 4: {  // all random
      out.assign(pick(512), '\0');
      for (char& c : out) c = static_cast<char>(rng());
      break;
    }
    case 5: {  // duplicate a slice (length-prefix confusion in protobuf, nesting in JSON)
      size_t start = pick(out.size());
      size_t len = pick(out.size() - start + 1);
      out.insert(pick(out.size() + 1), out.substr(start, len));
      break;
    }
  }
  return out;
}

struct Body {
  Signal signal;
  bool json;
  std::string data;
};

std::vector<Body> ValidBodies() {
  SampleOptions options;
  options.seed = 4242;
  options.resources = 2;
  options.items_per_scope = 3;
  std::vector<Body> bodies;
  bodies.push_back({Signal::kTraces, false, MakeTraces(options).SerializeAsString()});
  bodies.push_back({Signal::kMetrics, false, MakeMetrics(options).SerializeAsString()});
  bodies.push_back({Signal::kLogs, false, MakeLogs(options).SerializeAsString()});
  bodies.push_back({Signal::kTraces, true, EncodeOtlpJson(MakeTraces(options))});
  bodies.push_back({Signal::kMetrics, true, EncodeOtlpJson(MakeMetrics(options))});
  bodies.push_back({Signal::kLogs, true, EncodeOtlpJson(MakeLogs(options))});
  return bodies;
}

class FuzzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vars_ = PortVars();
    ASSERT_TRUE(daemon_.StartWithConfig(FileSinkConfig(), vars_).ok());
    for (const char* p : {"GRPC_PORT", "HTTP_PORT", "HEALTH_PORT"}) {
      ASSERT_TRUE(daemon_.WaitForPort(PortOf(vars_, p))) << daemon_.Stderr();
    }
  }

  // Health 200, a valid request accepted and written, process alive.
  void ExpectStillServing(uint64_t seed) {
    ASSERT_TRUE(daemon_.Running()) << "daemon died\n" << daemon_.Stderr();
    EXPECT_EQ(HttpGet(LocalUrl(PortOf(vars_, "HEALTH_PORT"), "/")).status, 200);
    SampleOptions options;
    options.seed = seed;
    TracesRequest valid = MakeTraces(options);
    HttpResult r = HttpPost(LocalUrl(PortOf(vars_, "HTTP_PORT"), "/v1/traces"),
                            valid.SerializeAsString(), {"Content-Type: application/x-protobuf"});
    EXPECT_EQ(r.status, 200) << r.error << r.body;
    grpc::Status s = OtlpGrpcClient(PortOf(vars_, "GRPC_PORT")).Export(valid);
    EXPECT_TRUE(s.ok()) << s.error_message();
    const std::string sink = daemon_.File(SinkFileName(Signal::kTraces));
    // Whatever the fuzzing got accepted, the file holds only valid lines, and the two valid
    // requests are among them.
    EXPECT_TRUE(WaitUntil(
        [&] {
          auto written = ReadTracesFile(sink);
          return written.ok() && TraceIds(*written).count(HexId(MakeTraceId(seed, 0))) == 1;
        },
        absl::Seconds(10)));
    auto written = ReadTracesFile(sink);
    EXPECT_TRUE(written.ok()) << written.status();
  }

  std::map<std::string, std::string> vars_;
  DaemonProcess daemon_{"fuzz"};
};

TEST_F(FuzzTest, CorruptedHttpBodies) {
  std::mt19937_64 rng(20240601);
  const std::vector<Body> bodies = ValidBodies();
  std::map<int, int> statuses;
  HttpClient client;
  constexpr int kRequests = 1000;
  for (int i = 0; i < kRequests; ++i) {
    const Body& base = bodies[i % bodies.size()];
    std::string data = Corrupt(base.data, rng);
    std::vector<std::string> headers = {base.json ? "Content-Type: application/json"
                                                  : "Content-Type: application/x-protobuf"};
    if (i % 10 == 9) {  // a corrupted body inside valid gzip, or valid body in corrupt gzip
      data = (i % 20 == 19) ? Gzip(data) : Corrupt(Gzip(base.data), rng);
      headers.push_back("Content-Encoding: gzip");
    }
    const std::string path = absl::StrCat("/v1/", std::string(SignalName(base.signal)));
    HttpResult r =
        client.Post(LocalUrl(PortOf(vars_, "HTTP_PORT"), path), data, headers, absl::Seconds(10));
    statuses[r.status]++;
    ASSERT_TRUE(r.status == 200 || r.status == 400)
        << "request " << i << " got " << r.status << " " << r.error << " " << r.body.substr(0, 200)
        << "\n"
        << daemon_.Stderr();
  }
  std::string summary;
  for (auto [status, n] : statuses) absl::StrAppend(&summary, status, ":", n, " ");
  RecordProperty("statuses", summary);
  std::printf("HTTP fuzz answers: %s\n", summary.c_str());
  EXPECT_GT(statuses[400], 0);
  ExpectStillServing(1);
}

TEST_F(FuzzTest, CorruptedGrpcMessages) {
  std::mt19937_64 rng(777);
  const std::vector<Body> bodies = ValidBodies();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", PortOf(vars_, "GRPC_PORT")),
                                           grpc::InsecureChannelCredentials(), args);
  grpc::GenericStub stub(channel);
  const std::map<Signal, std::string> methods = {
      {Signal::kTraces, "/opentelemetry.proto.collector.trace.v1.TraceService/Export"},
      {Signal::kMetrics, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"},
      {Signal::kLogs, "/opentelemetry.proto.collector.logs.v1.LogsService/Export"}};
  std::map<int, int> codes;
  constexpr int kRequests = 300;
  for (int i = 0; i < kRequests; ++i) {
    const Body& base = bodies[i % 3];  // the protobuf ones
    std::string data = Corrupt(base.data, rng);
    grpc::Slice slice(data);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    stub.UnaryCall(&context, methods.at(base.signal), grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     std::lock_guard<std::mutex> lock(mu);
                     status = std::move(s);
                     done = true;
                     cv.notify_one();
                   });
    {
      std::unique_lock<std::mutex> lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(15), [&] { return done; }))
          << "gRPC call " << i << " never completed";
    }
    codes[status.error_code()]++;
    // OK, INVALID_ARGUMENT for data the daemon refuses, INTERNAL for what gRPC itself
    // cannot deserialize (as otelcol does).
    ASSERT_TRUE(status.error_code() == grpc::StatusCode::OK ||
                status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                status.error_code() == grpc::StatusCode::INTERNAL)
        << "call " << i << ": " << status.error_code() << " " << status.error_message() << "\n"
        << daemon_.Stderr();
  }
  std::string summary;
  for (auto [code, n] : codes) absl::StrAppend(&summary, code, ":", n, " ");
  std::printf("gRPC fuzz codes: %s\n", summary.c_str());
  ExpectStillServing(2);
}

// Garbage at the HTTP/1.1 and HTTP/2 framing level over raw TCP.
TEST_F(FuzzTest, GarbageOnRawConnections) {
  std::mt19937_64 rng(99);
  const std::vector<std::string> prefixes = {
      "", "POST /v1/traces HTTP/1.1\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
      "POST /v1/traces HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"};
  for (int port : {PortOf(vars_, "HTTP_PORT"), PortOf(vars_, "GRPC_PORT")}) {
    for (int i = 0; i < 40; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      ASSERT_GE(fd, 0);
      timeval tv{2, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(port));
      ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
      std::string data = prefixes[i % prefixes.size()];
      std::string junk(rng() % 2048, '\0');
      for (char& c : junk) c = static_cast<char>(rng());
      data += junk;
      [[maybe_unused]] ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (i % 2 == 0) {
        char buf[4096];
        [[maybe_unused]] ssize_t got = recv(fd, buf, sizeof(buf), 0);  // bounded by SO_RCVTIMEO
      }
      close(fd);
    }
  }
  ExpectStillServing(3);
}

}  // namespace
}  // namespace otlpd::testing
