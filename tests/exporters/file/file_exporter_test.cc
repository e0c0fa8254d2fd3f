#include "exporters/file/file_exporter.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <latch>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/compression.h"
#include "core/config_node.h"
#include "core/metrics.h"
#include "core/otlp_json.h"
#include "exporters/file/config.h"
#include "exporters/file/factory.h"
#include "exporters/file/rotating_file.h"
#include "testing/otlp_data.h"
#include "testing/temp_dir.h"
#include "testing/test_host.h"

namespace otlpd {
namespace {

namespace fs = std::filesystem;
using testing::SampleOptions;
using testing::TempDir;

std::unique_ptr<ComponentConfig> Parse(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), "exporters::file", diag);
  auto config = NewFileExporterFactory()->ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

using otlpd::testing::TestHost;

std::unique_ptr<Exporter> MakeExporter(const std::string& yaml, Host* host = nullptr) {
  Diagnostics diag;
  auto config = Parse(yaml, &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  auto exporter = NewFileExporterFactory()->Create(CreateSettings{{"file", ""}, host}, *config);
  EXPECT_TRUE(exporter.ok()) << exporter.status();
  return std::move(*exporter);
}

absl::Status Export(Exporter& exporter, TelemetryPtr data) {
  absl::Status result = absl::InternalError("not completed");
  exporter.Consume(std::move(data), [&](absl::Status s) { result = s; });
  return result;
}

TelemetryPtr Wrap(Signal signal, const google::protobuf::Message& m) {
  auto t = std::make_shared<Telemetry>(signal);
  t->mutable_message()->CopyFrom(m);
  return t;
}

// Non-empty lines of `content`; every line must end with '\n'.
std::vector<std::string> Lines(const std::string& content) {
  std::vector<std::string> lines = absl::StrSplit(content, '\n');
  EXPECT_TRUE(lines.empty() || lines.back().empty()) << "last line is not terminated";
  if (!lines.empty()) lines.pop_back();
  return lines;
}

// Decodes every line as a traces request; returns the span count (-1 on a bad line).
long CountSpansInLines(const std::vector<std::string>& lines) {
  long spans = 0;
  for (const std::string& line : lines) {
    TracesRequest r;
    if (!DecodeOtlpJson(line, &r).ok()) return -1;
    spans += static_cast<long>(CountItems(r));
  }
  return spans;
}

std::vector<std::string> Backups(const std::string& dir, const std::string& stem) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind(stem + "-", 0) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FileExporterTest, WritesOneDecodableLinePerRequestForEverySignal) {
  TempDir dir;
  const std::string path = dir.File("sub/dir/out.json");  // parent dirs are created
  TestHost host;
  auto exporter = MakeExporter(absl::StrCat("path: ", path), &host);
  ASSERT_TRUE(exporter->Start().ok());
  TracesRequest traces = testing::MakeTraces({.seed = 1, .resources = 2});
  MetricsRequest metrics = testing::MakeMetrics({.seed = 2});
  LogsRequest logs = testing::MakeLogs({.seed = 3});
  EXPECT_TRUE(Export(*exporter, Wrap(Signal::kTraces, traces)).ok());
  EXPECT_TRUE(Export(*exporter, Wrap(Signal::kMetrics, metrics)).ok());
  EXPECT_TRUE(Export(*exporter, Wrap(Signal::kLogs, logs)).ok());
  // Written before the ack: readable now, before shutdown.
  std::vector<std::string> lines = Lines(testing::ReadFileOrEmpty(path));
  ASSERT_EQ(lines.size(), 3u);
  TracesRequest traces_back;
  MetricsRequest metrics_back;
  LogsRequest logs_back;
  ASSERT_TRUE(DecodeOtlpJson(lines[0], &traces_back).ok());
  ASSERT_TRUE(DecodeOtlpJson(lines[1], &metrics_back).ok());
  ASSERT_TRUE(DecodeOtlpJson(lines[2], &logs_back).ok());
  EXPECT_EQ(testing::ProtoDiff(traces, traces_back), "");
  EXPECT_EQ(testing::ProtoDiff(metrics, metrics_back), "");
  EXPECT_EQ(testing::ProtoDiff(logs, logs_back), "");
  // otelcol's exporter self-metrics count the items written.
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_spans", "file"), CountItems(traces));
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_metric_points", "file"), CountItems(metrics));
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_log_records", "file"), CountItems(logs));
  EXPECT_EQ(host.Counter("otelcol_exporter_send_failed_log_records", "file"), 0u);
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  // After shutdown requests fail instead of vanishing, and are counted as failed.
  EXPECT_FALSE(Export(*exporter, Wrap(Signal::kLogs, logs)).ok());
  EXPECT_EQ(host.Counter("otelcol_exporter_send_failed_log_records", "file"), CountItems(logs));
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_log_records", "file"), CountItems(logs));
}

TEST(FileExporterTest, TruncatesUnlessAppend) {
  TempDir dir;
  const std::string path = dir.Write("out.json", "old line\n");
  {
    auto exporter = MakeExporter(absl::StrCat("path: ", path, "\nappend: true"));
    ASSERT_TRUE(exporter->Start().ok());
    EXPECT_TRUE(Export(*exporter, Wrap(Signal::kTraces, testing::MakeTraces())).ok());
    exporter->Shutdown(absl::Now() + absl::Seconds(5));
  }
  std::vector<std::string> lines = Lines(testing::ReadFileOrEmpty(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "old line");
  {
    auto exporter = MakeExporter(absl::StrCat("path: ", path));
    ASSERT_TRUE(exporter->Start().ok());
    EXPECT_TRUE(Export(*exporter, Wrap(Signal::kTraces, testing::MakeTraces())).ok());
    exporter->Shutdown(absl::Now() + absl::Seconds(5));
  }
  EXPECT_EQ(Lines(testing::ReadFileOrEmpty(path)).size(), 1u);
}

// Writes requests of about 300 KiB each into a 1 MiB-rotated file.
struct RotationRun {
  long spans_written = 0;
  size_t bytes_written = 0;
  int requests = 0;
};

RotationRun WriteLargeRequests(Exporter& exporter, int requests) {
  RotationRun run;
  for (int i = 0; i < requests; ++i) {
    TelemetryPtr data =
        Wrap(Signal::kTraces, testing::MakeTraces({.seed = static_cast<uint64_t>(i + 1),
                                                   .items_per_scope = 30,
                                                   .padding_bytes = 10000,
                                                   .rich = false}));
    run.spans_written += static_cast<long>(data->ItemCount());
    run.bytes_written += EncodeOtlpJson(data->message()).size() + 1;
    EXPECT_TRUE(Export(exporter, data).ok());
    ++run.requests;
  }
  return run;
}

TEST(FileExporterTest, RotatesAndKeepsMaxBackups) {
  TempDir dir;
  const std::string path = dir.File("traces.json");
  auto exporter = MakeExporter(
      absl::StrCat("path: ", path, "\nrotation:\n  max_megabytes: 1\n  max_backups: 2"));
  ASSERT_TRUE(exporter->Start().ok());
  RotationRun run = WriteLargeRequests(*exporter, 16);
  exporter->Shutdown(absl::Now() + absl::Seconds(20));
  // Enough for at least four files of 1 MiB: more than two backups were made.
  EXPECT_GT(run.bytes_written, size_t{4} << 20);

  std::vector<std::string> backups = Backups(dir.path(), "traces");
  ASSERT_EQ(backups.size(), 2u) << absl::StrJoin(backups, ", ");
  const std::regex name(R"(traces-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.json)");
  for (const std::string& b : backups) {
    EXPECT_TRUE(std::regex_match(b, name)) << b;
    std::string content = testing::ReadFileOrEmpty(dir.File(b));
    EXPECT_LE(content.size(), 1u << 20);
    std::vector<std::string> lines = Lines(content);
    EXPECT_GE(lines.size(), 2u);
    EXPECT_GT(CountSpansInLines(lines), 0) << b;
  }
  std::vector<std::string> current = Lines(testing::ReadFileOrEmpty(path));
  EXPECT_GT(CountSpansInLines(current), 0);
  EXPECT_LE(testing::ReadFileOrEmpty(path).size(), 1u << 20);
}

class CompressedRotationTest : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Codecs, CompressedRotationTest, ::testing::Values("gzip", "zstd"));

TEST_P(CompressedRotationTest, BackupsDecompressToTheWrittenLines) {
  const std::string codec = GetParam();
  const std::string suffix = codec == "gzip" ? ".gz" : ".zst";
  TempDir dir;
  const std::string path = dir.File("traces.json");
  auto exporter = MakeExporter(absl::StrCat(
      "path: ", path, "\nrotation:\n  max_megabytes: 1\n  max_backups: 0\n  compression: ", codec));
  ASSERT_TRUE(exporter->Start().ok());
  RotationRun run = WriteLargeRequests(*exporter, 12);
  exporter->Shutdown(absl::Now() + absl::Seconds(30));

  std::vector<std::string> backups = Backups(dir.path(), "traces");
  ASSERT_GE(backups.size(), 2u);
  long spans = CountSpansInLines(Lines(testing::ReadFileOrEmpty(path)));
  for (const std::string& b : backups) {
    ASSERT_TRUE(b.size() > suffix.size() && b.substr(b.size() - suffix.size()) == suffix) << b;
    std::string compressed = testing::ReadFileOrEmpty(dir.File(b));
    EXPECT_LT(compressed.size(), 1u << 20);
    absl::StatusOr<std::string> plain =
        Decompress(codec == "gzip" ? Compression::kGzip : Compression::kZstd, compressed, 64 << 20);
    ASSERT_TRUE(plain.ok()) << b << ": " << plain.status();
    long n = CountSpansInLines(Lines(*plain));
    ASSERT_GT(n, 0) << b;
    spans += n;
  }
  // Nothing lost or duplicated across the rotations.
  EXPECT_EQ(spans, run.spans_written);
}

TEST(FileExporterTest, ConcurrentWritersProduceIntactLines) {
  TempDir dir;
  const std::string path = dir.File("out.json");
  TestHost host;
  auto exporter = MakeExporter(absl::StrCat("path: ", path), &host);
  ASSERT_TRUE(exporter->Start().ok());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Large enough lines (~70 KiB) that torn writes would show.
        TelemetryPtr data =
            Wrap(Signal::kTraces, testing::MakeTraces({.seed = static_cast<uint64_t>(t * 1000 + i),
                                                       .items_per_scope = 7,
                                                       .padding_bytes = 10000,
                                                       .rich = false}));
        if (!Export(*exporter, data).ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(failures.load(), 0);
  std::vector<std::string> lines = Lines(testing::ReadFileOrEmpty(path));
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(CountSpansInLines(lines), kThreads * kPerThread * 7);
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_spans", "file"),
            uint64_t{kThreads * kPerThread * 7});
  EXPECT_EQ(host.Counter("otelcol_exporter_send_failed_spans", "file"), 0u);
}

TEST(FileExporterTest, RemovesBackupsOlderThanMaxDays) {
  TempDir dir;
  const std::string path = dir.File("logs.json");
  const absl::Time now = absl::Now();
  auto name = [](absl::Time t) {
    return absl::StrCat("logs-", absl::FormatTime("%Y-%m-%dT%H-%M-%E3S", t, absl::UTCTimeZone()),
                        ".json");
  };
  const std::string old_backup = dir.Write(name(now - absl::Hours(24 * 10)), "{}\n");
  const std::string recent_backup = dir.Write(name(now - absl::Hours(2)), "{}\n");
  const std::string unrelated = dir.Write("other-2020-01-01T00-00-00.000.json", "{}\n");
  auto exporter = MakeExporter(absl::StrCat("path: ", path, "\nrotation:\n  max_days: 3"));
  ASSERT_TRUE(exporter->Start().ok());
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_FALSE(fs::exists(old_backup));
  EXPECT_TRUE(fs::exists(recent_backup));
  EXPECT_TRUE(fs::exists(unrelated));
}

TEST(FileExporterTest, UnwritablePathFailsStart) {
  TempDir dir;
  // A regular file where a directory should be: fails even for root.
  const std::string blocker = dir.Write("blocker", "x");
  auto exporter = MakeExporter(absl::StrCat("path: ", blocker, "/sub/out.json"));
  absl::Status s = exporter->Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(blocker), absl::string_view::npos) << s;

  // The path itself is a directory.
  auto dir_exporter = MakeExporter(absl::StrCat("path: ", dir.path()));
  s = dir_exporter->Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot open"), absl::string_view::npos) << s;
}

// One asynchronous request: when it completed, how, and whether its line was already in
// the file at that moment.
struct Pending {
  TelemetryPtr data;
  std::string line;  // its encoded line, '\n' included
  absl::Time sent;
  absl::Time completed;
  absl::Status status = absl::InternalError("not completed");
  bool line_in_file = false;
  absl::Notification done;
};

std::vector<std::shared_ptr<Pending>> MakePending(int n, int padding_bytes = 0) {
  std::vector<std::shared_ptr<Pending>> out;
  for (int i = 0; i < n; ++i) {
    auto p = std::make_shared<Pending>();
    p->data =
        Wrap(Signal::kTraces, testing::MakeTraces({.seed = static_cast<uint64_t>(i + 1),
                                                   .items_per_scope = padding_bytes > 0 ? 30 : 3,
                                                   .padding_bytes = padding_bytes,
                                                   .rich = padding_bytes == 0}));
    p->line = EncodeOtlpJson(p->data->message()) + "\n";
    out.push_back(std::move(p));
  }
  return out;
}

// Consumes `p`; its completion reads `path` to see whether the line is there already.
// (The completion shares `p`, so a test that gives up waiting leaves it valid.)
void ConsumeAsync(Exporter& exporter, std::shared_ptr<Pending> p, const std::string& path) {
  p->sent = absl::Now();
  TelemetryPtr data = p->data;
  exporter.Consume(std::move(data), [p, path](absl::Status s) {
    p->completed = absl::Now();
    p->line_in_file = testing::ReadFileOrEmpty(path).find(p->line) != std::string::npos;
    p->status = std::move(s);
    p->done.Notify();
  });
}

// Consumes every request from its own thread, all at about the same time.
void ConsumeConcurrently(Exporter& exporter, std::vector<std::shared_ptr<Pending>>& requests,
                         const std::string& path) {
  std::latch ready(static_cast<std::ptrdiff_t>(requests.size()));
  std::vector<std::thread> threads;
  for (auto& p : requests) {
    threads.emplace_back([&, p] {
      ready.arrive_and_wait();
      ConsumeAsync(exporter, p, path);
    });
  }
  for (auto& t : threads) t.join();
}

size_t Completed(const std::vector<std::shared_ptr<Pending>>& requests) {
  return std::count_if(requests.begin(), requests.end(),
                       [](const auto& p) { return p->done.HasBeenNotified(); });
}

uint64_t WriteCalls(Exporter& exporter) {
  return dynamic_cast<FileExporter&>(exporter).file().write_calls();
}

TEST(FileExporterTest, GroupCommitAcknowledgesAfterTheSharedWrite) {
  TempDir dir;
  const std::string path = dir.File("out.json");
  TestHost host;
  const absl::Duration interval = absl::Milliseconds(200);
  auto exporter = MakeExporter(absl::StrCat("path: ", path, "\nflush_interval: 200ms"), &host);
  ASSERT_TRUE(exporter->Start().ok());
  constexpr int kRequests = 16;
  auto requests = MakePending(kRequests);
  ConsumeConcurrently(*exporter, requests, path);
  uint64_t spans = 0;
  absl::Time first_sent = absl::InfiniteFuture();
  for (auto& p : requests) first_sent = std::min(first_sent, p->sent);
  for (auto& p : requests) {
    ASSERT_TRUE(p->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    EXPECT_TRUE(p->status.ok()) << p->status;
    // The acknowledgement comes after the line reached the file, ...
    EXPECT_TRUE(p->line_in_file);
    // ... which was flush_interval after the first line of the write (not before), so at
    // most about flush_interval after the request came.
    EXPECT_GE(p->completed - first_sent, interval - absl::Milliseconds(1));
    EXPECT_LT(p->completed - p->sent, interval + absl::Seconds(1));
    spans += p->data->ItemCount();
  }
  // The requests shared the write (two at most, should the threads straddle a flush).
  EXPECT_GE(WriteCalls(*exporter), 1u);
  EXPECT_LE(WriteCalls(*exporter), 2u);
  EXPECT_EQ(Lines(testing::ReadFileOrEmpty(path)).size(), size_t{kRequests});
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_spans", "file"), spans);
  EXPECT_EQ(host.Counter("otelcol_exporter_send_failed_spans", "file"), 0u);
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
}

TEST(FileExporterTest, GroupCommitWritesAFullBufferWithoutWaitingForTheInterval) {
  TempDir dir;
  const std::string path = dir.File("out.json");
  auto exporter = MakeExporter(absl::StrCat("path: ", path, "\nflush_interval: 1h"));
  ASSERT_TRUE(exporter->Start().ok());
  // Lines of about 300 KiB: the request that would take the buffer past kFlushBytes
  // starts a new one, and the full one is written right away.
  auto requests = MakePending(5, 10000);
  size_t first_batch = 0, bytes = 0;
  while (first_batch < requests.size() &&
         bytes + requests[first_batch]->line.size() <= FileExporter::kFlushBytes) {
    bytes += requests[first_batch++]->line.size();
  }
  ASSERT_GE(first_batch, 2u);
  ASSERT_LT(first_batch, requests.size());
  for (auto& p : requests) ConsumeAsync(*exporter, p, path);
  for (size_t i = 0; i < first_batch; ++i) {
    ASSERT_TRUE(requests[i]->done.WaitForNotificationWithTimeout(absl::Seconds(10))) << i;
    EXPECT_TRUE(requests[i]->status.ok()) << requests[i]->status;
    EXPECT_TRUE(requests[i]->line_in_file);
  }
  EXPECT_EQ(WriteCalls(*exporter), 1u);
  EXPECT_EQ(testing::ReadFileOrEmpty(path).size(), bytes);
  // The rest waits for the interval (an hour), or, here, for Shutdown.
  EXPECT_EQ(Completed(requests), first_batch);
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(Completed(requests), requests.size());
  for (auto& p : requests) EXPECT_TRUE(p->status.ok() && p->line_in_file) << p->status;
  EXPECT_EQ(Lines(testing::ReadFileOrEmpty(path)).size(), requests.size());
}

TEST(FileExporterTest, ShutdownWritesPendingLinesAndCompletesEveryCaller) {
  TempDir dir;
  const std::string path = dir.File("out.json");
  TestHost host;
  auto exporter = MakeExporter(absl::StrCat("path: ", path, "\nflush_interval: 1h"), &host);
  ASSERT_TRUE(exporter->Start().ok());
  auto requests = MakePending(8);
  ConsumeConcurrently(*exporter, requests, path);
  // Nothing is due for an hour: nobody is answered and nothing is written yet.
  EXPECT_EQ(Completed(requests), 0u);
  EXPECT_EQ(testing::ReadFileOrEmpty(path), "");
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  ASSERT_EQ(Completed(requests), requests.size());
  uint64_t spans = 0;
  for (auto& p : requests) {
    EXPECT_TRUE(p->status.ok()) << p->status;
    EXPECT_TRUE(p->line_in_file);
    spans += p->data->ItemCount();
  }
  EXPECT_EQ(WriteCalls(*exporter), 1u);
  EXPECT_EQ(Lines(testing::ReadFileOrEmpty(path)).size(), requests.size());
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_spans", "file"), spans);
  // After shutdown requests fail at once instead of waiting in a buffer nobody writes.
  auto late = MakePending(1);
  ConsumeAsync(*exporter, late[0], path);
  ASSERT_TRUE(late[0]->done.HasBeenNotified());
  EXPECT_FALSE(late[0]->status.ok());
  EXPECT_EQ(host.Counter("otelcol_exporter_send_failed_spans", "file"), late[0]->data->ItemCount());
}

TEST(FileExporterTest, WriteErrorsFailTheRequestsInTheWrite) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  for (const char* interval : {"0s", "200ms"}) {
    SCOPED_TRACE(interval);
    TestHost host;
    // /dev/full opens fine and fails every write with ENOSPC.
    auto exporter =
        MakeExporter(absl::StrCat("path: /dev/full\nflush_interval: ", interval), &host);
    ASSERT_TRUE(exporter->Start().ok());
    auto requests = MakePending(6);
    ConsumeConcurrently(*exporter, requests, "/dev/null");
    uint64_t spans = 0;
    for (auto& p : requests) {
      ASSERT_TRUE(p->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
      EXPECT_FALSE(p->status.ok());
      EXPECT_NE(p->status.message().find("/dev/full"), absl::string_view::npos) << p->status;
      spans += p->data->ItemCount();
    }
    EXPECT_EQ(host.Counter("otelcol_exporter_send_failed_spans", "file"), spans);
    EXPECT_EQ(host.Counter("otelcol_exporter_sent_spans", "file"), 0u);
    exporter->Shutdown(absl::Now() + absl::Seconds(5));
  }
}

TEST(FileExporterTest, GroupCommitWithRotationKeepsLinesWholeAndLosesNothing) {
  TempDir dir;
  const std::string path = dir.File("traces.json");
  auto exporter = MakeExporter(absl::StrCat(
      "path: ", path, "\nflush_interval: 50ms\nrotation:\n  max_megabytes: 1\n  max_backups: 0"));
  ASSERT_TRUE(exporter->Start().ok());
  // Callers that each wait for their answer before sending the next request, as clients do.
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  std::atomic<long> spans_written{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto p = std::make_shared<Pending>();
        p->data = Wrap(Signal::kTraces,
                       testing::MakeTraces({.seed = static_cast<uint64_t>(t * 100 + i + 1),
                                            .items_per_scope = 30,
                                            .padding_bytes = 10000,
                                            .rich = false}));
        p->line = EncodeOtlpJson(p->data->message()) + "\n";
        ConsumeAsync(*exporter, p, path);
        if (!p->done.WaitForNotificationWithTimeout(absl::Seconds(30)) || !p->status.ok()) {
          failures++;
          return;
        }
        spans_written += static_cast<long>(p->data->ItemCount());
      }
    });
  }
  for (auto& th : threads) th.join();
  exporter->Shutdown(absl::Now() + absl::Seconds(20));
  EXPECT_EQ(failures.load(), 0);
  std::vector<std::string> backups = Backups(dir.path(), "traces");
  ASSERT_GE(backups.size(), 3u);
  long spans = 0;
  for (const std::string& name : backups) {
    std::string content = testing::ReadFileOrEmpty(dir.File(name));
    EXPECT_LE(content.size(), 1u << 20) << name;
    long n = CountSpansInLines(Lines(content));
    EXPECT_GT(n, 0) << name;  // every line whole
    spans += n;
  }
  const std::string current = testing::ReadFileOrEmpty(path);
  EXPECT_LE(current.size(), 1u << 20);
  long n = CountSpansInLines(Lines(current));
  EXPECT_GE(n, 0);
  spans += n;
  EXPECT_EQ(spans, spans_written.load());
}

TEST(FileExporterTest, ConfigValidation) {
  auto errors = [](const std::string& yaml) {
    Diagnostics diag;
    Parse(yaml, &diag);
    return diag.Format();
  };
  EXPECT_EQ(errors("path: /tmp/x.json"), "");
  EXPECT_EQ(errors("path: /tmp/x.json\nformat: json\nflush_interval: 5s\n"
                   "rotation:\n  max_megabytes: 10\n  max_days: 3\n  max_backups: 3\n"
                   "  localtime: true\n  compression: zstd"),
            "");
  EXPECT_NE(errors("{}").find("path"), std::string::npos);
  EXPECT_NE(errors("path: /tmp/x.json\nformat: proto").find("not supported"), std::string::npos);
  EXPECT_NE(errors("path: /tmp/x.json\nrotation:\n  compression: lz4").find("compression"),
            std::string::npos);
  EXPECT_NE(errors("path: /tmp/x.json\nrotation:\n  max_megabytes: 0").find("max_megabytes"),
            std::string::npos);
  EXPECT_NE(errors("path: /tmp/x.json\ngroup_by: {}").find("group_by"), std::string::npos);
  EXPECT_NE(errors("path: /tmp/x.json\nflush_interval: -1s").find("flush_interval"),
            std::string::npos);
  EXPECT_EQ(errors("path: /tmp/x.json\nflush_interval: 0s"), "");

  Diagnostics diag;
  auto config = Parse("path: /tmp/x.json\nrotation:", &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  const auto& c = ConfigAs<FileExporterConfig>(*config);
  EXPECT_TRUE(c.rotation.enabled);
  EXPECT_EQ(c.rotation.max_megabytes, 100);
  EXPECT_EQ(c.rotation.max_backups, 100);
  EXPECT_EQ(c.rotation.compression, BackupCompression::kNone);
  // otlpd writes through by default (otelcol buffers for 1s).
  EXPECT_EQ(c.flush_interval, absl::ZeroDuration());
}

}  // namespace
}  // namespace otlpd
