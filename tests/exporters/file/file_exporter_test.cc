#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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

  Diagnostics diag;
  auto config = Parse("path: /tmp/x.json\nrotation:", &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  const auto& c = ConfigAs<FileExporterConfig>(*config);
  EXPECT_TRUE(c.rotation.enabled);
  EXPECT_EQ(c.rotation.max_megabytes, 100);
  EXPECT_EQ(c.rotation.max_backups, 100);
  EXPECT_EQ(c.rotation.compression, BackupCompression::kNone);
}

}  // namespace
}  // namespace otlpd
