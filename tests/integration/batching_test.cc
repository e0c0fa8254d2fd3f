// Batching without the latency trap: a sequential client (one request at a time, like an
// SDK's batch span processor) is not held for the batch `timeout` under the embedded default
// config, while concurrent clients behind a busy exporter do get their requests merged.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "config/config.h"
#include "storage/tiered_store.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"
#include "testing/prometheus.h"
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

// The embedded default listens on fixed ports and writes under ./data; the test runs it
// with fresh ports and its own directory, and nothing else changed.
const std::vector<std::pair<std::string, std::string>> kDefaultSubstitutions = {
    {"127.0.0.1:4317", "127.0.0.1:{{GRPC_PORT}}"},
    {"127.0.0.1:4318", "127.0.0.1:{{HTTP_PORT}}"},
    {"127.0.0.1:13133", "127.0.0.1:{{HEALTH_PORT}}"},
    {"127.0.0.1:8888", "127.0.0.1:{{METRICS_PORT}}"},
    {"127.0.0.1:16686", "127.0.0.1:{{QUERY_PORT}}"},
    {"directory: ./data", "directory: {{DIR}}/data"},
};

std::string DefaultConfigForTest() {
  return absl::StrReplaceAll(std::string(DefaultConfigYaml()), kDefaultSubstitutions);
}

TEST(BatchingTest, TestConfigIsTheEmbeddedDefault) {
  const std::string original(DefaultConfigYaml());
  const std::string for_test = DefaultConfigForTest();
  for (const auto& [from, to] : kDefaultSubstitutions) {
    size_t count = 0;
    for (size_t at = original.find(from); at != std::string::npos;
         at = original.find(from, at + 1)) {
      ++count;
    }
    EXPECT_EQ(count, 1u) << from;
  }
  // Undoing the substitutions gives the default back: nothing else differs.
  std::vector<std::pair<std::string, std::string>> undo;
  for (const auto& [from, to] : kDefaultSubstitutions) undo.emplace_back(to, from);
  EXPECT_EQ(absl::StrReplaceAll(for_test, undo), original);
  // No fixed port or relative path is left that the test daemon would share.
  for (size_t at = for_test.find("127.0.0.1:"); at != std::string::npos;
       at = for_test.find("127.0.0.1:", at + 1)) {
    EXPECT_EQ(for_test.substr(at + 10, 2), "{{") << for_test.substr(at, 20);
  }
  for (absl::string_view line : absl::StrSplit(for_test, '\n')) {
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "#")) continue;
    EXPECT_FALSE(absl::StrContains(line, "./")) << line;
  }
  EXPECT_THAT(original, ::testing::HasSubstr("timeout: 200ms"));
}

// One request at a time, 512 spans each (the SDK batch span processor's default batch):
// with the old batch processor every request waited for the 200 ms timeout (30 requests =
// 6 s); now a request that finds downstream idle goes at once.
TEST(BatchingTest, SequentialClientIsNotHeldForTheBatchTimeout) {
  DaemonProcess daemon("batching-default");
  auto vars = PortVars({"QUERY_PORT"});
  ASSERT_TRUE(daemon.StartWithConfig(DefaultConfigForTest(), vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();
  constexpr int kRequests = 30;
  constexpr int kSpans = 512;
  std::vector<TracesRequest> sent;

  HttpClient http;
  absl::Time t0 = absl::Now();
  for (int i = 0; i < kRequests; ++i) {
    sent.push_back(Spans(100 + i, kSpans));
    HttpResult r = http.Post(LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces"),
                             sent.back().SerializeAsString(), kProtobuf);
    ASSERT_EQ(r.status, 200) << r.error << " " << r.body;
  }
  const absl::Duration http_took = absl::Now() - t0;

  OtlpGrpcClient grpc_client(PortOf(vars, "GRPC_PORT"));
  t0 = absl::Now();
  for (int i = 0; i < kRequests; ++i) {
    sent.push_back(Spans(200 + i, kSpans));
    grpc::Status s = grpc_client.Export(sent.back());
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const absl::Duration grpc_took = absl::Now() - t0;

  // Far below kRequests x timeout (6 s) for either transport.
  EXPECT_LT(http_took, absl::Seconds(2)) << kRequests << " sequential HTTP requests";
  EXPECT_LT(grpc_took, absl::Seconds(2)) << kRequests << " sequential gRPC requests";
  std::printf("%d sequential requests of %d spans: HTTP %s, gRPC %s\n", kRequests, kSpans,
              absl::FormatDuration(http_took).c_str(), absl::FormatDuration(grpc_took).c_str());

  // Acknowledged means stored: the store the daemon leaves behind holds every span once.
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
  storage::TieredStoreOptions options;
  options.directory = daemon.File("data");
  options.lifecycle_interval = absl::Hours(1);
  auto store = storage::TieredStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->hot_stats().spans + (*store)->warm_stats().spans,
            static_cast<uint64_t>(TotalItems(sent)));
  for (const std::string& hex : TraceIds(sent)) {
    storage::TraceId id;
    std::string bytes = absl::HexStringToBytes(hex);
    ASSERT_EQ(bytes.size(), 16u);
    std::memcpy(id.data(), bytes.data(), 16);
    auto trace = (*store)->GetTrace(id);
    ASSERT_TRUE(trace.ok() && trace->has_value()) << hex;
  }
}

// 8 clients sending back to back into a batch processor in front of a file exporter that
// holds each write for flush_interval: what arrives while a batch is being written is sent
// together after it, so batches hold several requests.
constexpr char kBusyExporterConfig[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
processors:
  batch:
exporters:
  file:
    path: {{DIR}}/traces.jsonl
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{{METRICS_PORT}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [file]
)";

TEST(BatchingTest, ConcurrentClientsGetMergedBatches) {
  DaemonProcess daemon("batching-merge");
  auto vars = PortVars();
  ASSERT_TRUE(daemon.StartWithConfig(kBusyExporterConfig, vars).ok());
  for (const char* port : {"GRPC_PORT", "HTTP_PORT", "METRICS_PORT"}) {
    ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, port))) << port << "\n" << daemon.Stderr();
  }
  constexpr int kClients = 8;  // half HTTP, half gRPC
  constexpr int kSpans = 20;
  const absl::Duration kSendFor = absl::Milliseconds(1500);
  std::atomic<long> sent_spans{0};
  std::atomic<int> requests{0};
  std::atomic<int> failures{0};
  std::vector<std::string> first_failure(kClients);
  std::vector<std::thread> clients;
  absl::Cleanup join = [&] {
    for (auto& t : clients) t.join();
  };
  const absl::Time until = absl::Now() + kSendFor;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient http;
      OtlpGrpcClient grpc_client(PortOf(vars, "GRPC_PORT"));
      for (int i = 0; absl::Now() < until; ++i) {
        TracesRequest request = Spans(c * 100000 + i, kSpans);
        bool ok;
        std::string what;
        if (c % 2 == 0) {
          HttpResult r = http.Post(LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces"),
                                   request.SerializeAsString(), kProtobuf);
          ok = r.status == 200;
          what = absl::StrCat("HTTP ", r.status, " ", r.error, " ", r.body);
        } else {
          grpc::Status s = grpc_client.Export(request);
          ok = s.ok();
          what = absl::StrCat("gRPC ", s.error_code(), " ", s.error_message());
        }
        requests.fetch_add(1);
        if (ok) {
          sent_spans.fetch_add(kSpans);
        } else if (failures.fetch_add(1) == 0) {
          first_failure[c] = what;
        }
      }
    });
  }
  std::move(join).Invoke();
  EXPECT_EQ(failures.load(), 0) << absl::StrJoin(first_failure, " ");
  ASSERT_GT(requests.load(), kClients);

  const std::string text = ScrapeMetrics(PortOf(vars, "METRICS_PORT"));
  const std::vector<std::pair<std::string, std::string>> batch = {{"processor", "batch"}};
  const double sum =
      PromValue(text, "otelcol_processor_batch_batch_send_size_sum", batch).value_or(-1);
  const double count =
      PromValue(text, "otelcol_processor_batch_batch_send_size_count", batch).value_or(-1);
  ASSERT_GT(count, 0) << text;
  // Every span went through the batch processor...
  EXPECT_EQ(sum, static_cast<double>(sent_spans.load())) << text;
  // ...in batches that merged requests: with one at a time downstream, a batch is what the
  // other clients sent while the previous one was written (about half of them).
  const double mean = sum / count;
  std::printf("%d requests of %d spans in %.0f batches, mean batch %.1f spans\n", requests.load(),
              kSpans, count, mean);
  EXPECT_GE(mean, 2.5 * kSpans) << text;

  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();
  int duplicates = -1;
  auto written = ReadTracesFile(daemon.File("traces.jsonl"));
  ASSERT_TRUE(written.ok()) << written.status();
  TraceIds(*written, &duplicates);
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(static_cast<long>(TotalItems(*written)), sent_spans.load());
}

}  // namespace
}  // namespace otlpd::testing
